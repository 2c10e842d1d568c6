package compose_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/dirstore/dirtest"
)

// A local cache from a config file: blobs and directories read through
// it come from far and are kept in pack files and a directory database in
// its path; a second composition on the same path reads them without far.
func TestLocalCacheFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := func(far string) string {
		return fmt.Sprintf(`
blobservices:
  far: %s
  default: {type: local_cache, path: %q, max_bytes: 100000000, far: far}
directoryservices:
  far: {type: memory}
  default: {type: local_cache, path: %q, far: far}
`, far, dir, dir)
	}
	open := func(far string) *compose.Services {
		t.Helper()
		f := filepath.Join(t.TempDir(), "castore.yaml")
		if err := os.WriteFile(f, []byte(cfg(far)), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := compose.Open(t.Context(), compose.DefaultRegistry(), compose.Options{ConfigFile: f})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open("{type: memory}")
	far, err := s.BlobService(t.Context(), "far")
	if err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(1<<20, 3)
	d := blobtest.Put(t, far, data)
	if !blobtest.ReadAndCheck(t, s.Blobs, d, data) {
		t.FailNow()
	}
	farDirs, _ := s.DirectoryService(t.Context(), "far")
	root := dirtest.MustDir(t, castore.Entry{Name: "f", Node: castore.FileNode(d, uint64(len(data)), false)})
	rd, err := farDirs.Put(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Directories.Get(t.Context(), rd); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	packs, _ := filepath.Glob(filepath.Join(dir, "packs", "*.pack"))
	if len(packs) == 0 {
		t.Fatal("no pack files in the cache dir")
	}
	// An empty far: what was read before comes from the cache.
	s = open("{type: memory}")
	defer s.Close()
	if !blobtest.ReadAndCheck(t, s.Blobs, d, data) {
		t.FailNow()
	}
	if _, err := s.Directories.Get(t.Context(), rd); err != nil {
		t.Fatalf("the directory cache lost a directory: %v", err)
	}

	if _, err := compose.Open(t.Context(), compose.DefaultRegistry(), compose.Options{BlobServiceAddr: "memory://", DirectoryServiceAddr: "memory://"}); err != nil {
		t.Fatal(err)
	}
	c := compose.New(compose.DefaultRegistry())
	defer c.Close()
	err = c.Load([]byte("blobservices:\n  x: {type: memory}\n  default: {type: local_cache, far: x}\n"))
	if err == nil {
		_, err = c.BlobService(t.Context(), "default")
	}
	if err == nil || !strings.Contains(err.Error(), "path") {
		t.Errorf("a local cache without a path: %v", err)
	}
}
