package ingest_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// creating counts the blobs written to a BlobService, and runs onHas (if
// set) before answering a Has.
type creating struct {
	castore.BlobService
	creates atomic.Int64
	onHas   func(d castore.Digest)
}

func (c *creating) Create(ctx context.Context) castore.BlobWriter {
	c.creates.Add(1)
	return c.BlobService.Create(ctx)
}

func (c *creating) Has(ctx context.Context, d castore.Digest) (bool, error) {
	if c.onHas != nil {
		c.onHas(d)
	}
	return c.BlobService.Has(ctx, d)
}

// With SkipKnown an import sends no file the store has already (without,
// it sends every one): a second import of the
// same tree writes no blob, and one after a change writes only the file
// that changed, from a directory and from an archive alike (files up to
// the archive's in-memory bound). Both imports give the same root, and
// the progress counts skipped files as stored.
func TestImportSkipsKnownBlobs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	for i, name := range []string{"empty", "b", "sub/c", "sub/d"} { // 0, 1000, 2000, 3000 bytes
		must(t, os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte{byte('a' + i)}, i*1000), 0o644))
	}
	blobs := &creating{BlobService: chunkstore.NewMemory()}
	dirs := dirstore.NewMemory()
	importDir := func() (castore.Node, *ingest.Progress) {
		t.Helper()
		var p ingest.Progress
		n, err := ingest.ImportPath(t.Context(), blobs, dirs, dir, ingest.Options{Progress: &p, SkipKnown: true})
		must(t, err)
		return n, &p
	}
	first, _ := importDir()
	if n := blobs.creates.Swap(0); n != 3 {
		t.Fatalf("first import wrote %d blobs, want 3 (the empty file needs none)", n)
	}
	again, p := importDir()
	if n := blobs.creates.Swap(0); n != 0 || again != first {
		t.Fatalf("second import wrote %d blobs, root %v (first %v)", n, again, first)
	}
	if p.Files.Load() != 4 || p.Bytes.Load() != 6000 {
		t.Fatalf("second import's progress: %d files, %d bytes", p.Files.Load(), p.Bytes.Load())
	}
	must(t, os.WriteFile(filepath.Join(dir, "sub", "c"), []byte("changed"), 0o644))
	importDir()
	if n := blobs.creates.Swap(0); n != 1 {
		t.Fatalf("import after one change wrote %d blobs, want 1", n)
	}
	if _, err := ingest.ImportPath(t.Context(), blobs, dirs, dir, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := blobs.creates.Swap(0); n != 4 {
		t.Fatalf("import without SkipKnown wrote %d blobs, want all 4", n)
	}

	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for _, f := range []struct{ name, body string }{{"t/", ""}, {"t/x", "x body"}, {"t/y", strings.Repeat("y", 5000)}} {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		must(t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(f.body))
		must(t, err)
	}
	must(t, tw.Close())
	for i, want := range []int64{2, 0} {
		_, err := ingest.ImportTar(t.Context(), blobs, dirs, bytes.NewReader(archive.Bytes()), ingest.Options{SkipKnown: true})
		must(t, err)
		if n := blobs.creates.Swap(0); n != want {
			t.Fatalf("archive import #%d wrote %d blobs, want %d", i+1, n, want)
		}
	}
}

// A file that changes between being hashed and being sent fails the
// import, naming the file: its node would otherwise name other bytes.
func TestImportFileChangedWhileImported(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, "f")
	must(t, os.WriteFile(path, []byte("version one"), 0o644))
	blobs := &creating{BlobService: chunkstore.NewMemory()}
	blobs.onHas = func(castore.Digest) { os.WriteFile(path, []byte("version two"), 0o644) }
	_, err := ingest.ImportPath(t.Context(), blobs, dirstore.NewMemory(), dir, ingest.Options{SkipKnown: true})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "change") {
		t.Fatalf("import of a file changed under it: %v", err)
	}
}
