//go:build linux

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore/packstore"
)

// Issue 19, case 2: a mount whose cache holds a damaged chunk reads the
// right bytes (from the server, with a warning naming the chunk), the
// damaged copy is replaced, and a later mount reads it from the cache
// alone.
func TestMountHealsDamagedCache(t *testing.T) {
	requireFUSE(t)
	c := newCLI(t)
	srv := startServer(t, func(k string) string { return c.env[k] }, "--data-dir", filepath.Join(t.TempDir(), "server"))
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = srv.addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = srv.addr
	src := filepath.Join(t.TempDir(), "tree")
	small := randomFile(t, filepath.Join(src, "small"), 5000, 1)
	big := randomFile(t, filepath.Join(src, "big"), 2<<20, 2)
	root := strings.TrimSpace(c.ok("import", src))
	cache := filepath.Join(t.TempDir(), "cache")
	read := func(mnt string) {
		t.Helper()
		for name, want := range map[string][]byte{"small": small, "big": big} {
			if got, err := os.ReadFile(filepath.Join(mnt, name)); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %s: equal %v, %v", name, bytes.Equal(got, want), err)
			}
		}
	}
	mnt := t.TempDir()
	m := c.mount(mnt, "--cache-dir", cache, "--prefetch", "off", root)
	read(mnt)
	m.unmount(t)

	// Damage the small file's chunk and one of the big file's in the
	// cache, with other valid zstd data.
	smallD, bigD := castore.Sum(small), castore.Sum(big)
	packs, err := packstore.Open(filepath.Join(cache, "packs"), packstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := packs.Get(t.Context(), chunkfmt.IndexKey(bigD))
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := io.ReadAll(r)
	r.Close()
	chunks, err := chunkfmt.DecodeIndex(idx)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("the cache's index of the big file: %d chunks, %v", len(chunks), err)
	}
	enc, err := chunkfmt.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	damaged := []castore.Digest{smallD, chunks[1].Digest}
	for _, d := range damaged {
		if err := packs.Put(t.Context(), chunkfmt.ChunkKey(d), bytes.NewReader(enc.Encode([]byte("not this chunk")))); err != nil {
			t.Fatal(err)
		}
	}
	packs.Close()

	mnt2 := t.TempDir()
	m2 := c.mount(mnt2, "--cache-dir", cache, "--prefetch", "off", root)
	read(mnt2)
	m2.unmount(t)
	log := m2.stderr.String()
	for _, d := range damaged {
		n := 0
		for line := range strings.Lines(log) {
			if strings.Contains(line, "fails verification") && strings.Contains(line, d.String()) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the mount's log warns %d times of damaged chunk %s, want once:\n%s", n, d, log)
		}
	}

	// Replaced: with the server gone, a mount reads them from the cache.
	srv.stop()
	mnt3 := t.TempDir()
	m3 := c.mount(mnt3, "--cache-dir", cache, "--prefetch", "off", root)
	read(mnt3)
	m3.unmount(t)
	if strings.Contains(m3.stderr.String(), "fails verification") {
		t.Errorf("the third mount found damage again:\n%s", m3.stderr)
	}
}
