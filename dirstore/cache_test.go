package dirstore_test

import (
	"context"
	"errors"
	"iter"
	"path/filepath"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/memstore"
)

func embedded(t *testing.T) *dirstore.Embedded {
	e, err := dirstore.OpenEmbedded(filepath.Join(t.TempDir(), "dirs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// Embedded near, bundles far: the cache addresses every directory of a
// closure, although far addresses only roots.
func TestCacheEmbeddedNearBundlesFar(t *testing.T) {
	dirtest.Run(t, func(t *testing.T) castore.DirectoryService {
		f, err := filestore.New(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return dirstore.NewCache(embedded(t), bundles(t, f))
	}, dirtest.Options{PutLeavesOnly: true})
}

// A closure that is only in far is read once, whole, and then served from
// near, subdirectories included.
func TestCacheFillsNear(t *testing.T) {
	leaf, mid, root := dirtest.SmallClosure(t)
	far := &dirtest.Counting{DirectoryService: bundles(t, memstore.New())}
	dirtest.MustPut(t, far, leaf, mid, root)
	near := dirstore.NewMemory()
	c := dirstore.NewCache(near, far)

	if _, err := c.Get(t.Context(), mid.Digest()); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("Get of a subdirectory before its root was read: %v, want not found (far addresses only roots)", err)
	}
	got, err := c.Get(t.Context(), root.Digest())
	if err != nil || got.Digest() != root.Digest() {
		t.Fatalf("Get(root) = %v, %v", got, err)
	}
	far.Gets.Store(0)
	far.Recursive.Store(0)
	for _, d := range []*castore.Directory{root, mid, leaf} {
		if got, err := c.Get(t.Context(), d.Digest()); err != nil || got.Digest() != d.Digest() {
			t.Fatalf("Get(%s) after the fill: %v", d.Digest(), err)
		}
	}
	n := 0
	for _, err := range c.GetRecursive(t.Context(), root.Digest()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("GetRecursive yielded %d directories, want 3", n)
	}
	if far.Gets.Load()+far.Recursive.Load() != 0 {
		t.Errorf("reads after the fill asked far %d times, want 0", far.Gets.Load()+far.Recursive.Load())
	}
}

// badFar yields a fixed sequence from GetRecursive.
type badFar struct {
	castore.DirectoryService
	dirs []*castore.Directory
}

func (b badFar) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) {
		for _, d := range b.dirs {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// A far that answers with a bad closure is an error, and near is left
// without any of it.
func TestCacheRefusesBadFar(t *testing.T) {
	leaf, mid, root := dirtest.SmallClosure(t)
	other := dirtest.MustDir(t, castore.Entry{Name: "o", Node: castore.SymlinkNode("x")})
	for name, dirs := range map[string][]*castore.Directory{
		"leaves first": {leaf, mid, root},
		"missing leaf": {root, mid},
		"foreign":      {root, other, mid, leaf},
		"repeated":     {root, mid, mid, leaf},
		"not the root": {mid, leaf},
	} {
		t.Run(name, func(t *testing.T) {
			near := dirstore.NewMemory()
			c := dirstore.NewCache(near, badFar{DirectoryService: dirstore.NewMemory(), dirs: dirs})
			_, err := c.Get(t.Context(), root.Digest())
			if !errors.Is(err, castore.ErrCorrupt) {
				t.Fatalf("Get = %v, want a corrupt-closure error", err)
			}
			for _, d := range []*castore.Directory{root, mid, leaf, other} {
				if _, err := near.Get(t.Context(), d.Digest()); !errors.Is(err, castore.ErrNotFound) {
					t.Errorf("near holds %s after a refused fill", d.Digest())
				}
			}
		})
	}
}
