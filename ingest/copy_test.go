package ingest_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// Issue 19, case 1: a target that holds a root without its blobs (put
// there by a writer nobody checked) is healed by copying again: Copy looks
// the blobs of a root it finds up and copies those missing.
func TestCopyHealsARootWithoutItsBlobs(t *testing.T) {
	ctx := t.Context()
	src := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "a"), []byte("alpha"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "sub", "b"), []byte("beta"), 0o644))
	blobs, dirs := stores(t)
	n, err := ingest.ImportPath(ctx, blobs, dirs, src, ingest.Options{})
	must(t, err)

	// The poisoned target: the closure, and one of its two blobs.
	toBlobs, toDirs := chunkstore.NewMemory(), dirstore.NewMemory()
	all, err := closure.Read(ctx, dirs, n.Digest)
	must(t, err)
	p := toDirs.NewPutter(ctx)
	for _, d := range closure.LeavesFirst(n.Digest, slices.Collect(maps.Values(all))) {
		must(t, p.Put(d))
	}
	_, err = p.Close()
	must(t, err)
	w := toBlobs.Create(ctx)
	w.Write([]byte("alpha"))
	_, err = w.Close()
	must(t, err)

	var st ingest.CopyStats
	must(t, ingest.Copy(ctx, blobs, dirs, toBlobs, toDirs, n, ingest.Options{}, &st))
	if st.Blobs.Load() != 1 || st.BlobsSkipped.Load() != 1 || st.Directories != 0 {
		t.Errorf("copy over a root without a blob: %d blobs copied, %d there, %d directories put; want 1, 1, 0", st.Blobs.Load(), st.BlobsSkipped.Load(), st.Directories)
	}
	if ok, err := toBlobs.Has(ctx, castore.Sum([]byte("beta"))); !ok || err != nil {
		t.Fatalf("the missing blob is still missing: %v, %v", ok, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	must(t, ingest.ExportDir(ctx, toBlobs, toDirs, n, out, ingest.ExportOptions{}))
	sameTree(t, src, out)
}
