package compose_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/compose"
)

// A config of near/far combinators over castore's own types: what goes in
// through one composition reads back through a second one whose near
// stores are fresh, so the reads go through to far.
func TestDefaultRegistryNearFarConfig(t *testing.T) {
	dir := t.TempDir()
	config := func(near string) string {
		cfg := fmt.Sprintf(`
blobservices:
  near: {type: memory}
  far:  {type: objectstore, url: "file://%[1]s/far"}
  default: {type: combined, near: near, far: far, write: both}
directoryservices:
  near: {type: embedded, path: %[1]s/%[2]s.db}
  far:  {type: objectstore, url: "file://%[1]s/far"}
  default: {type: cache, near: near, far: far}
`, dir, near)
		p := filepath.Join(dir, near+".yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := func(cfg string) *compose.Services {
		s, err := compose.Open(t.Context(), compose.DefaultRegistry(), compose.Options{ConfigFile: cfg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	first := open(config("near1"))
	data := blobtest.Data(3<<20, 5)
	blob := blobtest.Put(t, first.Blobs, data)
	leaf, err := castore.NewDirectory(castore.Entry{Name: "data", Node: castore.FileNode(blob, uint64(len(data)), false)})
	if err != nil {
		t.Fatal(err)
	}
	root, err := castore.NewDirectory(castore.Entry{Name: "sub", Node: leaf.Node()})
	if err != nil {
		t.Fatal(err)
	}
	p := first.Directories.NewPutter(t.Context())
	for _, d := range []*castore.Directory{leaf, root} {
		if err := p.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Close(); err != nil {
		t.Fatal(err)
	}

	second := open(config("near2"))
	blobtest.ReadAndCheck(t, second.Blobs, blob, data)
	if got, err := second.Directories.Get(t.Context(), root.Digest()); err != nil || got.Digest() != root.Digest() {
		t.Fatalf("root through a cold cache: %v", err)
	}
	if got, err := second.Directories.Get(t.Context(), leaf.Digest()); err != nil || got.Digest() != leaf.Digest() {
		t.Fatalf("subdirectory after the root filled near: %v", err)
	}
}

func TestCombinedRejectsBadWriteTarget(t *testing.T) {
	c := compose.New(compose.DefaultRegistry())
	err := c.Load([]byte(`
blobservices:
  a: {type: memory}
  default: {type: combined, near: a, far: a, write: sideways}
`))
	if err == nil {
		_, err = c.BlobService(t.Context(), "default")
	}
	if err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Fatalf("got %v, want an error naming the bad write target", err)
	}
}

// `{type: memory, max_bytes: N}` is a memory store bounded to N bytes; a
// negative bound is refused, naming the service.
func TestMemoryBlobsMaxBytes(t *testing.T) {
	c := compose.New(compose.DefaultRegistry())
	if err := c.Load([]byte("blobservices:\n  small: {type: memory, max_bytes: 4096}\n  bad: {type: memory, max_bytes: -1}\n")); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	small, err := c.BlobService(t.Context(), "small")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		blobtest.Put(t, small, blobtest.Data(2000, uint64(i)))
	}
	if m, ok := small.(*chunkstore.Memory); !ok || m.Size() > 4096 {
		t.Fatalf("memory with max_bytes 4096: %T holding more than that", small)
	}
	if _, err := c.BlobService(t.Context(), "bad"); err == nil || !strings.Contains(err.Error(), "blobservices.bad") || !strings.Contains(err.Error(), "max_bytes") {
		t.Fatalf("max_bytes -1: %v", err)
	}
}

// `{type: objectstore, url: file://.., max_bytes: N}` keeps the store's
// files within about N bytes, and reads still come out right for what is
// kept; max_bytes on a store that is not file:// is refused.
func TestObjectStoreBlobsMaxBytes(t *testing.T) {
	dir := t.TempDir()
	c := compose.New(compose.DefaultRegistry())
	cfg := fmt.Sprintf("blobservices:\n  cache: {type: objectstore, url: \"file://%s/c?sync=none\", max_bytes: 1048576}\n  bad: {type: objectstore, url: \"memory:///\", max_bytes: 1048576}\n", dir)
	if err := c.Load([]byte(cfg)); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cache, err := c.BlobService(t.Context(), "cache")
	if err != nil {
		t.Fatal(err)
	}
	var last castore.Digest
	var lastData []byte
	for i := range 40 { // 10 MiB of incompressible blobs
		lastData = blobtest.Data(256<<10, uint64(100+i))
		last = blobtest.Put(t, cache, lastData)
	}
	var total int64
	filepath.WalkDir(filepath.Join(dir, "c"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			total += fi.Size()
		}
		return err
	})
	if total > 1<<20+1<<20/10+256<<10 { // the bound, a tenth, and the blob that crossed it
		t.Fatalf("a store bounded to 1 MiB holds %d bytes", total)
	}
	if !blobtest.ReadAndCheck(t, cache, last, lastData) {
		t.Fatal("the blob written last does not read back")
	}
	if _, err := c.BlobService(t.Context(), "bad"); err == nil || !strings.Contains(err.Error(), "file://") {
		t.Fatalf("max_bytes on memory:///: %v", err)
	}
}
