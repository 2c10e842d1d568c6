package closure_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/objectstore/memstore"
)

// Descend and Walk work on a store that addresses only roots.
func TestDescendAndWalkOnBundles(t *testing.T) {
	leaf, mid, root := dirtest.SmallClosure(t)
	b, err := dirstore.NewBundles(memstore.New(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dirtest.MustPut(t, b, leaf, mid, root)
	for path, want := range map[string]castore.Node{
		"":           root.Node(),
		"mid":        mid.Node(),
		"mid/leaf":   leaf.Node(),
		"mid/leaf/f": castore.FileNode(castore.EmptyDigest, 0, false),
		"l":          castore.SymlinkNode("t"),
	} {
		p, err := castore.ParsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := closure.Descend(t.Context(), b, root.Digest(), p)
		if err != nil || got != want {
			t.Errorf("Descend(%q) = %v, %v; want %v", path, got, err, want)
		}
	}
	for _, path := range []string{"nope", "mid/nope", "l/x", "mid/leaf/f/x"} {
		p, _ := castore.ParsePath(path)
		_, err := closure.Descend(t.Context(), b, root.Digest(), p)
		if !errors.Is(err, castore.ErrNotFound) || !strings.Contains(err.Error(), strings.Split(path, "/")[0]) {
			t.Errorf("Descend(%q) = %v, want not found naming the path", path, err)
		}
	}
	var paths []string
	for v, err := range closure.Walk(t.Context(), b, root.Digest()) {
		if err != nil {
			t.Fatal(err)
		}
		if v.Directory == nil {
			t.Fatal("nil directory")
		}
		paths = append(paths, string(v.Path))
	}
	if strings.Join(paths, ",") != ",mid,mid/leaf" {
		t.Errorf("Walk visited %q", paths)
	}
}

// partial is a store whose GetRecursive yields a fixed sequence, without
// an error of its own.
type partial struct {
	castore.DirectoryService
	dirs []*castore.Directory
}

func (p partial) GetRecursive(context.Context, castore.Digest) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) {
		for _, d := range p.dirs {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// Read refuses a closure that lacks its root or a directory it refers to,
// even from a store that does not say so itself.
func TestReadChecksComplete(t *testing.T) {
	leaf, mid, root := dirtest.SmallClosure(t)
	for name, dirs := range map[string][]*castore.Directory{
		"unknown root": nil,
		"missing leaf": {root, mid},
		"no root":      {mid, leaf},
	} {
		_, err := closure.Read(t.Context(), partial{dirs: dirs}, root.Digest())
		if !errors.Is(err, castore.ErrNotFound) {
			t.Errorf("%s: Read = %v, want not found", name, err)
		}
	}
	all, err := closure.Read(t.Context(), partial{dirs: []*castore.Directory{root, mid, leaf}}, root.Digest())
	if err != nil || len(all) != 3 || all[mid.Digest()] != mid {
		t.Errorf("Read of a whole closure = %d directories, %v", len(all), err)
	}
}

// Descend asks a store that declares it addresses only roots for no
// subdirectory by Get, and one that addresses all for no closure.
func TestDescendFollowsAddressing(t *testing.T) {
	leaf, mid, root := dirtest.SmallClosure(t)
	b, err := dirstore.NewBundles(memstore.New(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct {
		s                   castore.DirectoryService
		gets, recursiveGets int64
	}{
		{b, 1, 1},
		{dirstore.NewMemory(), 3, 0},
	} {
		dirtest.MustPut(t, tc.s, leaf, mid, root)
		c := &dirtest.Counting{DirectoryService: tc.s}
		n, err := closure.Descend(t.Context(), c, root.Digest(), "mid/leaf/f")
		if err != nil || n != castore.FileNode(castore.EmptyDigest, 0, false) {
			t.Fatalf("%v: Descend = %v, %v", tc.s.Addressing(), n, err)
		}
		if c.Gets.Load() != tc.gets || c.Recursive.Load() != tc.recursiveGets {
			t.Errorf("%v: Descend made %d Gets and %d GetRecursives, want %d and %d", tc.s.Addressing(), c.Gets.Load(), c.Recursive.Load(), tc.gets, tc.recursiveGets)
		}
	}
}
