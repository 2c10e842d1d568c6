package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// finding is a store that answers Missing for many digests at once,
// taking delay per call (a round trip), and counts its calls.
type finding struct {
	creating
	delay        time.Duration
	refuse       bool
	finds, asked atomic.Int64
	has          atomic.Int64
}

func (f *finding) Has(ctx context.Context, d castore.Digest) (bool, error) {
	f.has.Add(1)
	return f.creating.Has(ctx, d)
}

func (f *finding) Missing(ctx context.Context, ds []castore.Digest) ([]castore.Digest, error) {
	if f.refuse {
		return nil, fmt.Errorf("find: %w", castore.ErrUnsupported)
	}
	f.finds.Add(1)
	f.asked.Add(int64(len(ds)))
	time.Sleep(f.delay)
	var out []castore.Digest
	for _, d := range ds {
		if ok, err := f.creating.Has(ctx, d); err != nil {
			return nil, err
		} else if !ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// With SkipKnown, an import into a store that answers in batches asks
// about its files in a few calls, not one each; copies too. A store that
// claims to and refuses is asked file by file.
func TestSkipKnownAsksInBatches(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	must(t, os.MkdirAll(dir, 0o755))
	const files = 600
	for i := range files {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte(fmt.Sprintf("file %d", i)), 0o644))
	}
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			blobs := &finding{creating: creating{BlobService: chunkstore.NewMemory()}, delay: 10 * time.Millisecond, refuse: refuse}
			dirs := dirstore.NewMemory()
			o := ingest.Options{SkipKnown: true}
			first, err := ingest.ImportPath(t.Context(), blobs, dirs, dir, o)
			must(t, err)
			if n := blobs.creates.Swap(0); n != files {
				t.Fatalf("first import wrote %d blobs, want %d", n, files)
			}
			blobs.finds.Store(0)
			blobs.has.Store(0)
			again, err := ingest.ImportPath(t.Context(), blobs, dirs, dir, o)
			must(t, err)
			if again != first || blobs.creates.Load() != 0 {
				t.Fatalf("second import: root %v (first %v), %d blobs written", again, first, blobs.creates.Load())
			}
			finds, has := blobs.finds.Load(), blobs.has.Load()
			t.Logf("second import of %d files: %d batched calls, %d Has", files, finds, has)
			if refuse {
				if has < files {
					t.Errorf("a store refusing batches was asked %d times with Has, want %d", has, files)
				}
				return
			}
			if has != 0 || finds > files/20 {
				t.Errorf("second import asked %d batches and %d Has for %d files; want a few batches", finds, has, files)
			}
			// A copy of the tree into a store holding it asks once.
			blobs.finds.Store(0)
			var st ingest.CopyStats
			must(t, ingest.Copy(t.Context(), blobs, dirs, blobs, dirstore.NewMemory(), first, ingest.Options{}, &st))
			if n := blobs.finds.Load(); n != 1 || st.BlobsSkipped.Load() != files || st.Blobs.Load() != 0 {
				t.Errorf("copy: %d batched calls, %d blobs skipped, %d copied", n, st.BlobsSkipped.Load(), st.Blobs.Load())
			}
		})
	}
}
