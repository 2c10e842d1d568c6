package dirtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/castore-go/castore"
)

// Options describe what a service can do.
type Options struct {
	// RootsOnly is set for services that address only the roots of
	// closures put through a putter (bundles): Get of a subdirectory is
	// not found, and Put of a directory with subdirectories is refused. A
	// service that declares castore.AddressesRoots must set it, one that
	// declares castore.AddressesAll must not; one that declares
	// castore.AddressesSome sets it as the service under test behaves (a
	// client of a server on bundles, or not).
	RootsOnly bool
	// PutLeavesOnly is set for services whose single-directory Put cannot
	// refer to subdirectories, even stored ones: over the wire a Put is a
	// closure of one message, as in tvix. RootsOnly implies it.
	PutLeavesOnly bool
}

// Run runs the suite; newService returns a fresh, empty service.
func Run(t *testing.T, newService func(t *testing.T) castore.DirectoryService, o Options) {
	t.Run("Addressing", func(t *testing.T) { testAddressing(t, newService(t), o) })
	t.Run("SingleDirectories", func(t *testing.T) { testSingle(t, newService(t), o) })
	t.Run("Closures", func(t *testing.T) { testClosures(t, newService(t), o) })
	t.Run("LargeTree", func(t *testing.T) { testLargeTree(t, newService(t), o) })
	t.Run("Unknown", func(t *testing.T) { testUnknown(t, newService(t)) })
	t.Run("PutterRejects", func(t *testing.T) { testRejects(t, newService, o) })
	t.Run("CancelledPutter", func(t *testing.T) { testCancelled(t, newService(t)) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// file is an entry for the blob of seed: the bytes of fmt.Sprint(seed).
func file(name string, seed int) castore.Entry {
	if seed > maxSeed {
		panic("dirtest: a seed beyond maxSeed")
	}
	b := []byte(fmt.Sprint(seed))
	return castore.Entry{Name: castore.PathComponent(name), Node: castore.FileNode(castore.Sum(b), uint64(len(b)), seed%2 == 0)}
}

// maxSeed bounds the seeds of the suite's files.
const maxSeed = 10000

// StoreBlobs stores in blobs every blob the suite's directories name, for
// a service that takes a directory only once its blobs are there (a gRPC
// server checks them: closure.RequireBlobs).
func StoreBlobs(t testing.TB, blobs castore.BlobService) {
	t.Helper()
	for seed := range maxSeed + 1 {
		w := blobs.Create(context.Background())
		if _, err := w.Write([]byte(fmt.Sprint(seed))); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// collect runs GetRecursive and returns the digests in order.
func collect(t *testing.T, s castore.DirectoryService, root castore.Digest) ([]castore.Digest, error) {
	var out []castore.Digest
	for d, err := range s.GetRecursive(ctx(t), root) {
		if err != nil {
			return out, err
		}
		out = append(out, d.Digest())
	}
	return out, nil
}

func wantOrder(t *testing.T, got []castore.Digest, want ...*castore.Directory) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("GetRecursive yielded %d directories, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i].Digest() {
			t.Fatalf("GetRecursive[%d] = %s, want %s", i, got[i], want[i].Digest())
		}
	}
}

// testAddressing checks that the service keeps to the Addressing it
// declares, and that the test expects what it declares.
func testAddressing(t *testing.T, s castore.DirectoryService, o Options) {
	a := s.Addressing()
	switch {
	case a == castore.AddressesAll && o.RootsOnly, a == castore.AddressesRoots && !o.RootsOnly:
		t.Fatalf("the service declares %v, the test expects roots only: %v", a, o.RootsOnly)
	case a != castore.AddressesAll && a != castore.AddressesRoots && a != castore.AddressesSome:
		t.Fatalf("the service declares %v, which is none of the three", a)
	}
	leaf := MustDir(t, file("addressed", 5))
	root := MustDir(t, Sub("leaf", leaf))
	if _, err := put(t, s, leaf, root); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx(t), root.Digest()); err != nil {
		t.Fatalf("Get of a root (%v): %v", a, err)
	}
	got, err := s.Get(ctx(t), leaf.Digest())
	switch {
	case err == nil && !got.Equal(leaf):
		t.Fatalf("Get of a subdirectory returned another directory")
	case a == castore.AddressesAll && err != nil:
		t.Fatalf("Get of a subdirectory from a service that addresses all: %v", err)
	case a == castore.AddressesRoots && !errors.Is(err, castore.ErrNotFound):
		t.Fatalf("Get of a subdirectory from a service that addresses only roots: %v, want not found", err)
	case a == castore.AddressesSome && err != nil && !errors.Is(err, castore.ErrNotFound):
		t.Fatalf("Get of a subdirectory: %v, want it or not found", err)
	}
}

func testSingle(t *testing.T, s castore.DirectoryService, o Options) {
	leaf := MustDir(t, file("a", 1), castore.Entry{Name: "l", Node: castore.SymlinkNode("/x")})
	empty := MustDir(t)
	for _, d := range []*castore.Directory{leaf, empty} {
		got, err := s.Put(ctx(t), d)
		if err != nil || got != d.Digest() {
			t.Fatalf("Put = %s, %v", got, err)
		}
		back, err := s.Get(ctx(t), d.Digest())
		if err != nil || !back.Equal(d) {
			t.Fatalf("Get after Put: %v", err)
		}
		order, err := collect(t, s, d.Digest())
		if err != nil {
			t.Fatal(err)
		}
		wantOrder(t, order, d)
	}
	// Idempotent.
	if _, err := s.Put(ctx(t), leaf); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	parent := MustDir(t, Sub("leaf", leaf))
	_, err := s.Put(ctx(t), parent)
	if o.RootsOnly || o.PutLeavesOnly {
		if err == nil {
			t.Fatal("a roots-only service accepted Put of a directory with subdirectories")
		}
		return
	}
	if err != nil {
		t.Fatalf("Put of a parent of a stored directory: %v", err)
	}
	orphan := MustDir(t, Sub("nowhere", MustDir(t, file("zz", 99))))
	if _, err := s.Put(ctx(t), orphan); !errors.Is(err, castore.ErrInvalid) {
		t.Fatalf("Put of a directory whose child is not stored: %v", err)
	}
	wrongSize := MustDir(t, castore.Entry{Name: "leaf", Node: castore.DirectoryNode(leaf.Digest(), leaf.Size()+1)})
	if _, err := s.Put(ctx(t), wrongSize); !errors.Is(err, castore.ErrInvalid) {
		t.Fatalf("Put of a directory that gives a stored child the wrong size: %v", err)
	}
}

func testClosures(t *testing.T, s castore.DirectoryService, o Options) {
	// A chain: c -> b -> a.
	a := MustDir(t, file("f", 1))
	b := MustDir(t, Sub("a", a), file("g", 2))
	c := MustDir(t, Sub("b", b))
	root, err := put(t, s, a, b, c)
	if err != nil || root != c.Digest() {
		t.Fatalf("chain: %s %v", root, err)
	}
	order, err := collect(t, s, c.Digest())
	if err != nil {
		t.Fatal(err)
	}
	wantOrder(t, order, c, b, a)

	// A diamond: r -> {x -> s, y -> s}, s shared; sent twice.
	sh := MustDir(t, file("shared", 3))
	x := MustDir(t, Sub("s", sh), file("x", 4))
	y := MustDir(t, Sub("s2", sh))
	r := MustDir(t, Sub("x", x), Sub("y", y))
	if root, err := put(t, s, sh, x, sh, y, r); err != nil || root != r.Digest() {
		t.Fatalf("diamond: %s %v", root, err)
	}
	order, err = collect(t, s, r.Digest())
	if err != nil {
		t.Fatal(err)
	}
	wantOrder(t, order, r, x, y, sh)
	if _, err := s.Get(ctx(t), r.Digest()); err != nil {
		t.Fatalf("Get of a root: %v", err)
	}
	_, err = s.Get(ctx(t), sh.Digest())
	if o.RootsOnly && !errors.Is(err, castore.ErrNotFound) || !o.RootsOnly && err != nil {
		t.Fatalf("Get of a subdirectory: %v (roots only: %v)", err, o.RootsOnly)
	}
}

// testLargeTree puts 10,000 directories: a root over 100 directories of
// 99 leaf directories each, every leaf with a few files.
func testLargeTree(t *testing.T, s castore.DirectoryService, o Options) {
	var all []*castore.Directory
	var mids []castore.Entry
	n := 0
	for i := range 100 {
		var leaves []castore.Entry
		for j := range 99 {
			n++
			l := MustDir(t, file("f", n), file(fmt.Sprintf("g%d", j), i))
			all = append(all, l)
			leaves = append(leaves, Sub(fmt.Sprintf("l%02d", j), l))
		}
		m := MustDir(t, leaves...)
		all = append(all, m)
		mids = append(mids, Sub(fmt.Sprintf("m%03d", i), m))
	}
	root := MustDir(t, mids...)
	all = append(all, root)
	got, err := put(t, s, all...)
	if err != nil || got != root.Digest() {
		t.Fatalf("put of %d directories: %s %v", len(all), got, err)
	}
	order, err := collect(t, s, root.Digest())
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != len(all) || order[0] != root.Digest() {
		t.Fatalf("GetRecursive yielded %d directories, want %d, root first", len(order), len(all))
	}
	// Breadth-first: every middle directory before every leaf.
	mid := map[castore.Digest]bool{}
	for _, m := range mids {
		mid[m.Node.Digest] = true
	}
	for i, d := range order[1:101] {
		if !mid[d] {
			t.Fatalf("GetRecursive[%d] is not a middle directory: not breadth-first", i+1)
		}
	}
	seen := map[castore.Digest]bool{}
	for _, d := range order {
		if seen[d] {
			t.Fatalf("GetRecursive yielded %s twice", d)
		}
		seen[d] = true
	}
}

func testUnknown(t *testing.T, s castore.DirectoryService) {
	d := castore.Sum([]byte("unknown"))
	if _, err := s.Get(ctx(t), d); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("Get of an unknown digest: %v", err)
	}
	order, err := collect(t, s, d)
	if err != nil || len(order) != 0 {
		t.Errorf("GetRecursive of an unknown root: %d directories, %v", len(order), err)
	}
}

func testRejects(t *testing.T, newService func(t *testing.T) castore.DirectoryService, o Options) {
	a := MustDir(t, file("f", 1))
	b := MustDir(t, Sub("a", a))
	wrong := MustDir(t, castore.Entry{Name: "a", Node: castore.DirectoryNode(a.Digest(), a.Size()+1)})
	c := MustDir(t, Sub("b", b))
	other := MustDir(t, file("o", 2))
	one := file("huge", 1)
	huge := MustDir(t, castore.Entry{Name: one.Name, Node: castore.FileNode(one.Node.Digest, castore.MaxFileSize+1, false)})
	for _, tc := range []struct {
		name string
		dirs []*castore.Directory
	}{
		{"empty", nil},
		{"missing child", []*castore.Directory{b}},
		{"root before child", []*castore.Directory{b, a}},
		{"wrong child size", []*castore.Directory{a, wrong}},
		{"disconnected", []*castore.Directory{a, b, other}},
		{"two roots", []*castore.Directory{a, other, b}},
		{"skipped level", []*castore.Directory{a, c}},
		{"file larger than a store holds", []*castore.Directory{huge}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newService(t)
			_, err := put(t, s, tc.dirs...)
			if !errors.Is(err, castore.ErrInvalid) {
				t.Fatalf("got %v, want an error wrapping ErrInvalid", err)
			}
			if len(tc.dirs) > 0 {
				last := tc.dirs[len(tc.dirs)-1].Digest()
				if _, err := s.Get(ctx(t), last); !errors.Is(err, castore.ErrNotFound) {
					t.Fatalf("after a rejected closure, Get(last) = %v, want not found", err)
				}
			}
		})
	}
	if _, err := newService(t).Put(ctx(t), huge); !errors.Is(err, castore.ErrInvalid) {
		t.Errorf("Put of a directory with a file larger than a store holds: %v, want an error wrapping ErrInvalid", err)
	}
}

func testCancelled(t *testing.T, s castore.DirectoryService) {
	a := MustDir(t, file("cancelled", 7))
	b := MustDir(t, Sub("a", a))
	c, cancel := context.WithCancel(context.Background())
	p := s.NewPutter(c)
	if err := p.Put(a); err != nil {
		t.Fatal(err)
	}
	p.Put(b)
	cancel()
	if _, err := p.Close(); err == nil {
		t.Fatal("Close of a cancelled putter succeeded")
	}
	if _, err := s.Get(ctx(t), b.Digest()); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("a cancelled putter left its root: %v", err)
	}
}
