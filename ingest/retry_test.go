package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// goneOnce is a store whose first write of each blob, and first closure
// put, fail with castore.ErrUnavailable (as a write in flight on a
// frontend that was killed does), or with err if set.
type goneOnce struct {
	castore.BlobService
	dirs castore.DirectoryService
	err  error

	mu       sync.Mutex
	failed   map[castore.Digest]int
	attempts map[castore.Digest]int
	closures int
}

func newGoneOnce(err error) *goneOnce {
	return &goneOnce{BlobService: chunkstore.NewMemory(), dirs: dirstore.NewMemory(), err: err,
		failed: map[castore.Digest]int{}, attempts: map[castore.Digest]int{}}
}

func (g *goneOnce) Create(ctx context.Context) castore.BlobWriter {
	return &goneWriter{g: g, ctx: ctx}
}

type goneWriter struct {
	g   *goneOnce
	ctx context.Context
	buf bytes.Buffer
}

func (w *goneWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

func (w *goneWriter) Close() (castore.Digest, error) {
	d := castore.Sum(w.buf.Bytes())
	w.g.mu.Lock()
	w.g.attempts[d]++
	first := w.g.failed[d] == 0
	if first {
		w.g.failed[d]++
	}
	w.g.mu.Unlock()
	if first {
		return castore.Digest{}, fmt.Errorf("put blob: the frontend went away: %w", w.g.failure())
	}
	inner := w.g.BlobService.Create(w.ctx)
	inner.Write(w.buf.Bytes())
	return inner.Close()
}

func (g *goneOnce) failure() error {
	if g.err != nil {
		return g.err
	}
	return castore.ErrUnavailable
}

// The directory side.
type goneDirs struct{ g *goneOnce }

func (d goneDirs) Get(ctx context.Context, dg castore.Digest) (*castore.Directory, error) {
	return d.g.dirs.Get(ctx, dg)
}
func (d goneDirs) Put(ctx context.Context, dir *castore.Directory) (castore.Digest, error) {
	return d.g.dirs.Put(ctx, dir)
}
func (d goneDirs) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	return d.g.dirs.GetRecursive(ctx, root)
}
func (d goneDirs) Addressing() castore.Addressing { return d.g.dirs.Addressing() }
func (d goneDirs) NewPutter(ctx context.Context) castore.DirectoryPutter {
	d.g.mu.Lock()
	d.g.closures++
	first := d.g.closures == 1
	d.g.mu.Unlock()
	if first {
		return gonePutter(d)
	}
	return d.g.dirs.NewPutter(ctx)
}

type gonePutter struct{ g *goneOnce }

func (gonePutter) Put(*castore.Directory) error { return nil }
func (p gonePutter) Close() (castore.Digest, error) {
	return castore.Digest{}, fmt.Errorf("put directories: the frontend went away: %w", p.g.failure())
}

// An import makes a write that failed with castore.ErrUnavailable again
// from its own data, once per failure: every file (read again), and the
// closure (sent again); with or without asking first which blobs the
// store has. Any other failure stops it, and nothing is sent twice.
func TestImportRetriesUnavailableWrites(t *testing.T) {
	tree := fixtureTree(t)
	var files [][]byte
	for i := range 5 {
		data := bytes.Repeat([]byte{byte(i)}, 1000*(i+1))
		files = append(files, data)
		must(t, os.WriteFile(filepath.Join(tree, "keep", fmt.Sprintf("f%d", i)), data, 0o644))
	}
	for _, skipKnown := range []bool{false, true} {
		t.Run(fmt.Sprintf("skip known %v", skipKnown), func(t *testing.T) {
			g := newGoneOnce(nil)
			n, err := ingest.ImportPath(t.Context(), g, goneDirs{g}, tree, ingest.Options{SkipKnown: skipKnown})
			if err != nil {
				t.Fatalf("import with each write failing once: %v", err)
			}
			for _, data := range files {
				if a := g.attempts[castore.Sum(data)]; a != 2 {
					t.Errorf("blob of %d bytes written %d times, want 2", len(data), a)
				}
			}
			if g.closures != 2 {
				t.Errorf("%d closure puts, want 2", g.closures)
			}
			if _, err := g.dirs.Get(t.Context(), n.Digest); err != nil {
				t.Errorf("the root after the import: %v", err)
			}
		})
	}
	t.Run("other failures", func(t *testing.T) {
		g := newGoneOnce(castore.ErrCorrupt)
		_, err := ingest.ImportPath(t.Context(), g, goneDirs{g}, tree, ingest.Options{})
		if !errors.Is(err, castore.ErrCorrupt) {
			t.Fatalf("import with a corrupt write: %v", err)
		}
		for _, data := range files {
			if a := g.attempts[castore.Sum(data)]; a > 1 {
				t.Errorf("blob of %d bytes written %d times after a failure that is not ErrUnavailable", len(data), a)
			}
		}
	})
}

// cutsHere is a store that takes blobs cut on the client's side
// (castore.ChunkUploader), whose first such write of each blob fails
// with castore.ErrUnavailable, and which counts the questions asked of
// it.
type cutsHere struct {
	*goneOnce
	asked int
}

func (c *cutsHere) CreateChunked(ctx context.Context) (castore.BlobWriter, error) {
	return c.goneOnce.Create(ctx), nil
}

func (c *cutsHere) Has(ctx context.Context, d castore.Digest) (bool, error) {
	c.mu.Lock()
	c.asked++
	c.mu.Unlock()
	return c.goneOnce.BlobService.Has(ctx, d)
}

// TestLargeFileCutHereNotHashedFirst: with SkipKnown, a file of 8 MiB or
// more to a store that takes blobs cut here goes to it at once (its
// writer asks about each chunk); a small one is asked about first. A
// write that fails with ErrUnavailable is made again from the file.
func TestLargeFileCutHereNotHashedFirst(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 9<<20/16)
	if err := os.WriteFile(filepath.Join(dir, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &cutsHere{goneOnce: newGoneOnce(nil)}
	n, err := ingest.ImportPath(context.Background(), s, goneDirs{s.goneOnce}, dir, ingest.Options{SkipKnown: true})
	if err != nil {
		t.Fatal(err)
	}
	d := castore.Sum(big)
	if s.asked != 0 || s.attempts[d] != 2 {
		t.Errorf("a 9 MiB file: asked %d times whether the store has it, written %d times; want 0 and 2 (one failed)", s.asked, s.attempts[d])
	}
	if ok, _ := s.goneOnce.BlobService.Has(context.Background(), d); !ok || n.Type != castore.NodeDirectory {
		t.Errorf("the file was not stored (%v), or the import gave %v", ok, n)
	}

	small := filepath.Join(t.TempDir(), "small")
	if err := os.WriteFile(small, big[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	s.asked = 0
	if _, err := ingest.ImportPath(context.Background(), s, goneDirs{s.goneOnce}, filepath.Dir(small), ingest.Options{SkipKnown: true}); err != nil {
		t.Fatal(err)
	}
	if s.asked != 1 {
		t.Errorf("a 1 MiB file: asked %d times whether the store has it, want 1", s.asked)
	}
}
