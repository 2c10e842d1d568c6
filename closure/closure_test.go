package closure_test

import (
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

func dir(t testing.TB, es ...castore.Entry) *castore.Directory {
	d, err := castore.NewDirectory(es...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// closureOf returns leaf, mid, root (root refers to mid refers to leaf).
func closureOf(t testing.TB) (leaf, mid, root *castore.Directory) {
	leaf = dir(t, castore.Entry{Name: "f", Node: castore.FileNode(castore.EmptyDigest, 0, false)})
	mid = dir(t, castore.Entry{Name: "leaf", Node: leaf.Node()})
	root = dir(t, castore.Entry{Name: "mid", Node: mid.Node()}, castore.Entry{Name: "l", Node: castore.SymlinkNode("t")})
	return
}

// LeavesFirst orders a closure where a child is reached through a later
// parent too (BFS order reversed would be wrong here).
func TestLeavesFirst(t *testing.T) {
	c := dir(t, castore.Entry{Name: "f", Node: castore.SymlinkNode("c")})
	y := dir(t, castore.Entry{Name: "c", Node: c.Node()})
	x := dir(t, castore.Entry{Name: "y", Node: y.Node()})
	root := dir(t, castore.Entry{Name: "c", Node: c.Node()}, castore.Entry{Name: "x", Node: x.Node()})
	order := closure.LeavesFirst(root.Digest(), []*castore.Directory{root, x, c, y})
	v := closure.NewLeavesFirstValidator()
	for _, d := range order {
		if _, err := v.Add(d); err != nil {
			t.Fatalf("LeavesFirst order refused by the putter's validator: %v", err)
		}
	}
	if got, _, err := v.Finish(); err != nil || got != root.Digest() || len(order) != 4 {
		t.Fatalf("Finish = %s, %v (%d directories)", got, err, len(order))
	}
}
