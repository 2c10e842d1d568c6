package ingest_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// mapCache is a FileCache keyed by path and size alone, so a test can
// make it lie.
type mapCache struct {
	mu      sync.Mutex
	m       map[string]castore.Digest
	lookups int
}

func (c *mapCache) Lookup(path string, fi fs.FileInfo) (castore.Digest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookups++
	d, ok := c.m[path]
	return d, ok
}

func (c *mapCache) Record(path string, fi fs.FileInfo, d castore.Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[path] = d
}

// With a FileCache, a re-import reads no file the cache knows and the
// store has; a file the cache knows but the store lacks is read and sent
// again; the roots are the same either way.
func TestImportWithFileCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	for i, name := range []string{"a", "b", "sub/c"} {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte{byte('a' + i), 1, 2, 3}, 0o644))
	}
	cache := &mapCache{m: map[string]castore.Digest{}}
	blobs := &creating{BlobService: chunkstore.NewMemory()}
	dirs := dirstore.NewMemory()
	imp := func(b castore.BlobService) castore.Node {
		t.Helper()
		n, err := ingest.ImportPath(t.Context(), b, dirs, dir, ingest.Options{FileCache: cache})
		must(t, err)
		return n
	}
	first := imp(blobs)
	if n := blobs.creates.Swap(0); n != 3 || len(cache.m) != 3 {
		t.Fatalf("first import wrote %d blobs and recorded %d files, want 3 and 3", n, len(cache.m))
	}
	if again := imp(blobs); again != first || blobs.creates.Swap(0) != 0 {
		t.Fatal("a re-import with every file cached wrote blobs or changed the root")
	}
	// A store without the blobs: the cache's word is not enough.
	fresh := &creating{BlobService: chunkstore.NewMemory()}
	if again := imp(fresh); again != first || fresh.creates.Load() != 3 {
		t.Fatalf("import into an empty store with a full cache wrote %d blobs, want 3", fresh.creates.Load())
	}
	// A single file, too.
	one := filepath.Join(dir, "a")
	cache.lookups = 0
	if _, err := ingest.ImportPath(t.Context(), blobs, dirs, one, ingest.Options{FileCache: cache}); err != nil || cache.lookups != 1 || blobs.creates.Load() != 0 {
		t.Fatalf("single-file import: %v, %d lookups, %d blobs written", err, cache.lookups, blobs.creates.Load())
	}
}
