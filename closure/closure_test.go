package closure_test

import (
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore/dirtest"
)

// LeavesFirst orders a closure where a child is reached through a later
// parent too (BFS order reversed would be wrong here).
func TestLeavesFirst(t *testing.T) {
	c := dirtest.MustDir(t, castore.Entry{Name: "f", Node: castore.SymlinkNode("c")})
	y := dirtest.MustDir(t, castore.Entry{Name: "c", Node: c.Node()})
	x := dirtest.MustDir(t, castore.Entry{Name: "y", Node: y.Node()})
	root := dirtest.MustDir(t, castore.Entry{Name: "c", Node: c.Node()}, castore.Entry{Name: "x", Node: x.Node()})
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
