package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// Verify on chunked blobs and closure bundles on one object store, with
// tags beside them: clean after an import; then a bundle that does not
// decode, one that names a blob never stored, and a tag whose root is not
// stored are each reported, by kind and key; an expired tag is counted,
// not checked.
func TestVerifyBundlesAndTags(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := "objectstore+file://" + dir
	svcs, err := compose.Open(ctx, compose.DefaultRegistry(), compose.Options{BlobServiceAddr: url, DirectoryServiceAddr: url})
	if err != nil {
		t.Fatal(err)
	}
	defer svcs.Close()
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(tree, "a", "b", "f"), []byte("a file in a tree"), 0o644)
	os.WriteFile(filepath.Join(tree, "g"), []byte("another"), 0o644)
	root, err := ingest.ImportPath(ctx, svcs.Blobs, svcs.Directories, tree, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	refs, err := svcs.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	set := func(name string, n castore.Node, exp time.Time) {
		t.Helper()
		if _, err := refs.Set(ctx, castore.Tag{Name: name, Root: n, Expires: exp}, castore.ExpectAny); err != nil {
			t.Fatal(err)
		}
	}
	set("ci/main", root, time.Time{})
	set("ci/old", castore.DirectoryNode(castore.Digest{9}, 1), time.Now().Add(-time.Hour))

	verify := func() (compose.VerifyStats, []compose.Damage) {
		t.Helper()
		var dms []compose.Damage
		st, err := svcs.Verify(ctx, func(d compose.Damage) { dms = append(dms, d) }, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st, dms
	}
	st, dms := verify()
	if len(dms) != 0 || st.Bundles != 1 || st.Directories != 3 || st.Tags != 1 || st.Expired != 1 || st.Chunks != 2 {
		t.Fatalf("a clean store: %+v, damage %v", st, dms)
	}

	// A bundle naming a blob that is not stored, written behind the putter's back.
	lost, _ := castore.NewDirectory(castore.Entry{Name: "lost", Node: castore.FileNode(castore.Sum([]byte("never stored")), 12, false)})
	enc, _ := zstd.NewWriter(nil)
	writeObject(t, dir, dirstore.BundleKey(lost.Digest()), enc.EncodeAll(dirstore.AppendBundle(nil, []*castore.Directory{lost}), nil))
	// A bundle that does not decode.
	junk := castore.Sum([]byte("junk"))
	writeObject(t, dir, dirstore.BundleKey(junk), []byte("not a bundle"))
	// A tag whose root is not stored.
	set("ci/gone", castore.DirectoryNode(castore.Digest{7}, 3), time.Time{})

	st, dms = verify()
	kinds := map[string]string{}
	for _, d := range dms {
		kinds[d.Kind+" "+d.Digest.String()] = d.Key + ": " + d.Problem
	}
	if len(dms) != 3 || st.Bundles != 3 || st.Tags != 2 {
		t.Fatalf("damage %v, stats %+v", dms, st)
	}
	for k, want := range map[string]string{
		"bundle " + lost.Digest().String():  "names blob",
		"bundle " + junk.String():           dirstore.BundleKey(junk),
		"tag " + castore.Digest{7}.String(): "ci/gone",
	} {
		if got, ok := kinds[k]; !ok || !strings.Contains(got, want) {
			t.Errorf("%s: %q, want it to say %q (all: %v)", k, got, want, kinds)
		}
	}
}

// writeObject puts an object into a file store directly.
func writeObject(t *testing.T, dir, key string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
