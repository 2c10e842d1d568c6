package dirtest

import (
	"context"
	"iter"
	"sync/atomic"
	"testing"

	"github.com/castore-go/castore"
)

// The building blocks of directory tests, for the suite and for the tests
// of every DirectoryService and of what uses one.

// MustDir builds a directory of es, failing t if they do not make one.
func MustDir(t testing.TB, es ...castore.Entry) *castore.Directory {
	t.Helper()
	d, err := castore.NewDirectory(es...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Sub is an entry name for the directory d.
func Sub(name string, d *castore.Directory) castore.Entry {
	return castore.Entry{Name: castore.PathComponent(name), Node: d.Node()}
}

// SmallClosure returns a closure of three: root refers to mid (and holds
// a symlink), mid refers to leaf, leaf holds the empty file.
func SmallClosure(t testing.TB) (leaf, mid, root *castore.Directory) {
	t.Helper()
	leaf = MustDir(t, castore.Entry{Name: "f", Node: castore.FileNode(castore.EmptyDigest, 0, false)})
	mid = MustDir(t, Sub("leaf", leaf))
	root = MustDir(t, Sub("mid", mid), castore.Entry{Name: "l", Node: castore.SymlinkNode("t")})
	return leaf, mid, root
}

// Put sends dirs (leaves first) through one putter of s and returns what
// its Close answers.
func Put(ctx context.Context, s castore.DirectoryService, dirs ...*castore.Directory) (castore.Digest, error) {
	p := s.NewPutter(ctx)
	for _, d := range dirs {
		if err := p.Put(d); err != nil {
			p.Close()
			return castore.Digest{}, err
		}
	}
	return p.Close()
}

// put is Put under the suite's context.
func put(t *testing.T, s castore.DirectoryService, dirs ...*castore.Directory) (castore.Digest, error) {
	t.Helper()
	return Put(ctx(t), s, dirs...)
}

// MustPut sends dirs (leaves first) through one putter of s and returns
// the root, failing t if s refuses them.
func MustPut(t *testing.T, s castore.DirectoryService, dirs ...*castore.Directory) castore.Digest {
	t.Helper()
	root, err := put(t, s, dirs...)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Counting is a DirectoryService that counts the Get and GetRecursive
// calls made of the one it wraps.
type Counting struct {
	castore.DirectoryService
	Gets, Recursive atomic.Int64
}

func (c *Counting) Get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
	c.Gets.Add(1)
	return c.DirectoryService.Get(ctx, d)
}

func (c *Counting) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	c.Recursive.Add(1)
	return c.DirectoryService.GetRecursive(ctx, root)
}
