package bigtable_test

import (
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
)

// BenchmarkGetRecursive reads a 10,000-directory closure (depth 3) from the
// emulator both ways, side by side in each iteration: batched (one
// ReadRows per level) and one Get per directory (dirstore.BreadthFirst over
// Get, the reference's traversal). It reports each time and the ratio.
func BenchmarkGetRecursive(b *testing.B) {
	f := newFixture(b)
	c := newCounter()
	s := f.open(b, f.params(b), c)
	ctx := b.Context()
	tree := wideTree(b, 99, 100)
	root, err := putAll(b, ctx, s, tree)
	if err != nil {
		b.Fatal(err)
	}
	count := func(seq func(yield func(*castore.Directory, error) bool)) {
		n := 0
		for _, err := range seq {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != len(tree) {
			b.Fatalf("read %d directories, want %d", n, len(tree))
		}
	}
	c.reset()
	var batched, perDir time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		count(s.GetRecursive(ctx, root))
		t1 := time.Now()
		count(dirstore.BreadthFirst(ctx, root, s.Get))
		perDir += time.Since(t1)
		batched += t1.Sub(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(batched.Milliseconds())/n, "batched-ms/op")
	b.ReportMetric(float64(perDir.Milliseconds())/n, "per-dir-ms/op")
	b.ReportMetric(float64(perDir)/float64(batched), "speedup-x")
	b.ReportMetric(float64(c.get("ReadRows"))/n, "read-requests/op")
}
