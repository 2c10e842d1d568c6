//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/objectstore/packstore"
)

// Issue 19: castore verify reports planted damage (a flipped byte in a
// chunk, a chunk an index names missing, a blob a directory names
// missing, a subdirectory missing) by key and digest and exits 1;
// --repair-from another store fixes it; a second verify is clean.
func TestVerifyAndRepair(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	a := randomFile(t, filepath.Join(src, "a"), 3000, 1)
	b := randomFile(t, filepath.Join(src, "b"), 4000, 2)
	big := randomFile(t, filepath.Join(src, "big"), 2<<20, 3)
	randomFile(t, filepath.Join(src, "sub", "c"), 100, 4)
	good, data := t.TempDir(), t.TempDir()
	root := strings.TrimSpace(c.ok("import", "--data-dir", good, src))
	if r := strings.TrimSpace(c.ok("import", "--data-dir", data, src)); r != root {
		t.Fatalf("two imports: %s and %s", root, r)
	}
	if code, _, errs := c.run(nil, "verify", "--data-dir", data); code != 0 {
		t.Fatalf("verify of an intact store: exit %d\n%s", code, errs)
	}

	// Plant the damage.
	ctx := context.Background()
	packs, err := packstore.Open(filepath.Join(data, "packs"), packstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(key string) []byte {
		r, err := packs.Get(ctx, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		defer r.Close()
		b, _ := io.ReadAll(r)
		return b
	}
	aKey := chunkfmt.ChunkKey(castore.Sum(a))
	flipped := get(aKey)
	flipped[len(flipped)/2] ^= 0x40
	must(t, packs.Put(ctx, aKey, bytes.NewReader(flipped)))
	chunks, err := chunkfmt.DecodeIndex(get(chunkfmt.IndexKey(castore.Sum(big))))
	if err != nil {
		t.Fatal(err)
	}
	must(t, packs.Delete(ctx, chunkfmt.ChunkKey(chunks[1].Digest)))
	must(t, packs.Delete(ctx, chunkfmt.ChunkKey(castore.Sum(b))))
	must(t, packs.Close())
	opts, err := (&storeFlags{dataDir: data}).readOptions()
	must(t, err)
	svcs, err := compose.Open(ctx, compose.DefaultRegistry(), opts)
	must(t, err)
	rootD, _ := castore.ParseDigest(root)
	rootDir, err := svcs.Directories.Get(ctx, rootD)
	must(t, err)
	svcs.Close()
	var sub castore.Digest
	for _, e := range rootDir.Entries() {
		if e.Name == "sub" {
			sub = e.Node.Digest
		}
	}
	db, err := bolt.Open(filepath.Join(data, "directories.db"), 0o600, nil)
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("directories")).Delete(sub[:]) }))
	must(t, db.Close())

	code, out, errs := c.run(nil, "verify", "--data-dir", data, "--json")
	if code != 1 {
		t.Fatalf("verify of a damaged store: exit %d, want 1\n%s", code, errs)
	}
	t.Logf("verify of the damaged store:\n%s", errs)
	var sum verifySummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	want := map[string]castore.Digest{
		"a chunk with a flipped byte":         castore.Sum(a),
		"an index naming a missing chunk":     castore.Sum(big),
		"a directory naming a missing blob":   rootD,
		"a directory naming a missing subdir": rootD,
	}
	for what, d := range want {
		hit := false
		for _, dm := range sum.Damage {
			if dm.Digest == d && (what != "a chunk with a flipped byte" || dm.Key == aKey) {
				hit = true
			}
		}
		if !hit || !strings.Contains(errs, d.String()) {
			t.Errorf("verify does not report %s (%s):\n%s", what, d, errs)
		}
	}
	if sum.Damaged < 4 {
		t.Errorf("%d damaged, want at least 4:\n%s", sum.Damaged, errs)
	}

	srv := startServer(t, func(k string) string { return c.env[k] }, "--data-dir", good)
	code, _, errs = c.run(nil, "verify", "--data-dir", data, "--repair-from", srv.addr)
	if code != 0 || !strings.Contains(errs, "repaired") {
		t.Fatalf("verify --repair-from: exit %d\n%s", code, errs)
	}
	t.Logf("verify --repair-from:\n%s", errs)
	code, _, errs = c.run(nil, "verify", "--data-dir", data)
	if code != 0 || strings.Contains(errs, "damaged chunk") || !strings.Contains(errs, ": 0 damaged") {
		t.Fatalf("a second verify: exit %d\n%s", code, errs)
	}
	outDir := filepath.Join(t.TempDir(), "out")
	c.ok("export", "--data-dir", data, root, outDir)
	if got, err := os.ReadFile(filepath.Join(outDir, "big")); err != nil || !bytes.Equal(got, big) {
		t.Errorf("the repaired big file: equal %v, %v", bytes.Equal(got, big), err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
