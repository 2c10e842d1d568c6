package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// gated is a BlobService whose writers count themselves in flight from
// Create to the end of Close. If gate > 0, Close waits until gate writers
// are closing at once (or until a generous deadline, so a test fails
// instead of hanging).
type gated struct {
	castore.BlobService
	gate int

	mu       sync.Mutex
	inFlight int
	maxIn    int
	closing  int
	open     chan struct{}
	opened   sync.Once
	timedOut bool
}

func newGated(gate int) *gated {
	return &gated{BlobService: chunkstore.NewMemory(), gate: gate, open: make(chan struct{})}
}

func (g *gated) Create(ctx context.Context) castore.BlobWriter {
	g.mu.Lock()
	g.inFlight++
	g.maxIn = max(g.maxIn, g.inFlight)
	g.mu.Unlock()
	return &gatedWriter{BlobWriter: g.BlobService.Create(ctx), g: g}
}

type gatedWriter struct {
	castore.BlobWriter
	g *gated
}

func (w *gatedWriter) Close() (castore.Digest, error) {
	g := w.g
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	if g.gate > 0 {
		g.mu.Lock()
		g.closing++
		if g.closing == g.gate {
			g.opened.Do(func() { close(g.open) })
		}
		g.mu.Unlock()
		select {
		case <-g.open:
		case <-time.After(20 * time.Second):
			g.mu.Lock()
			g.timedOut = true
			g.mu.Unlock()
			g.opened.Do(func() { close(g.open) })
		}
	}
	return w.BlobWriter.Close()
}

func writeFiles(t *testing.T, n, size int) string {
	dir := t.TempDir()
	for i := range n {
		b := make([]byte, size)
		copy(b, fmt.Sprint(i))
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), b, 0o644))
	}
	return dir
}

// A directory of small files is imported with many uploads in flight by
// default (they mostly wait on the store), more than the 8 of old.
func TestImportPathSmallFilesInParallel(t *testing.T) {
	const want = 32
	dir := writeFiles(t, 3*want, 100)
	g := newGated(want)
	if _, err := ingest.ImportPath(t.Context(), g, dirstore.NewMemory(), dir, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	if g.timedOut {
		t.Fatalf("%d uploads never were in flight at once (at most %d)", want, g.maxIn)
	}
}

// Large files streaming at once are bounded by the memory budget, each
// reckoned at up to 4 MiB, whatever the concurrency.
func TestImportPathLargeFilesWithinBudget(t *testing.T) {
	dir := writeFiles(t, 12, 5<<20)
	g := newGated(0)
	o := ingest.Options{MemoryBudget: 8 << 20, Concurrency: 64}
	if _, err := ingest.ImportPath(t.Context(), g, dirstore.NewMemory(), dir, o); err != nil {
		t.Fatal(err)
	}
	if g.maxIn > 2 {
		t.Fatalf("%d files of 5 MiB streamed at once within a budget of 8 MiB, want at most 2", g.maxIn)
	}
}
