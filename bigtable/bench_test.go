package bigtable_test

import (
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore/dirtest"
)

// BenchmarkGetRecursive reads a 10,000-directory closure (depth 3) from the
// emulator both ways, side by side in each iteration: batched (one
// ReadRows per level) and one Get per directory (closure.BreadthFirst over
// Get, the reference's traversal). It reports each time and the ratio.
func BenchmarkGetRecursive(b *testing.B) {
	f := newFixture(b)
	c := newCounter()
	s := f.open(b, f.params(b), c)
	ctx := b.Context()
	tree := wideTree(b, 99, 100)
	root, err := dirtest.Put(ctx, s, tree...)
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
	var batched, perDir time.Duration
	batchedReads, perDirReads := 0, 0
	b.ResetTimer()
	for b.Loop() {
		c.reset()
		t0 := time.Now()
		count(s.GetRecursive(ctx, root))
		t1 := time.Now()
		batchedReads += c.get("ReadRows")
		c.reset()
		count(closure.BreadthFirst(ctx, root, s.Get))
		perDir += time.Since(t1)
		perDirReads += c.get("ReadRows")
		batched += t1.Sub(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(batched.Milliseconds())/n, "batched-ms/op")
	b.ReportMetric(float64(perDir.Milliseconds())/n, "per-dir-ms/op")
	b.ReportMetric(float64(perDir)/float64(batched), "speedup-x")
	b.ReportMetric(float64(batchedReads)/n, "batched-reads/op")
	b.ReportMetric(float64(perDirReads)/n, "per-dir-reads/op")
}
