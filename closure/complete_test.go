package closure_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
)

// plainBlobs is a blob service without StatBlobs, counting lookups.
type plainBlobs struct {
	castore.BlobService // a *chunkstore.Memory, its StatBlobs hidden
	chunks              atomic.Int64
}

func (p *plainBlobs) Chunks(ctx context.Context, d castore.Digest) ([]castore.ChunkMeta, error) {
	p.chunks.Add(1)
	return p.BlobService.Chunks(ctx, d)
}

func putBlob(t *testing.T, s castore.BlobService, b []byte) castore.Digest {
	w := s.Create(t.Context())
	w.Write(b)
	d, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A tree of many files in many directories: each blob is looked up once,
// through StatBlobs in batches where the service can, one by one where it
// cannot; a missing one anywhere refuses the closure and stores nothing.
func TestRequireBlobs(t *testing.T) {
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			mem := &plainBlobs{BlobService: chunkstore.NewMemory()}
			var blobs castore.BlobService = mem
			if batched {
				blobs = mem.BlobService
			}
			var leaves []castore.Entry
			var dirs []*castore.Directory
			for i := range 20 {
				var es []castore.Entry
				for j := range 50 {
					b := fmt.Appendf(nil, "file %d", j) // the same 50 in every directory
					if j == 0 {
						b = fmt.Appendf(nil, "own file of %d", i)
					}
					es = append(es, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("f%02d", j)), Node: castore.FileNode(putBlob(t, mem, b), uint64(len(b)), false)})
				}
				d := dirtest.MustDir(t, es...)
				dirs = append(dirs, d)
				leaves = append(leaves, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("d%02d", i)), Node: d.Node()})
			}
			missing := castore.Entry{Name: "missing", Node: castore.FileNode(castore.Sum([]byte("never stored")), 12, false)}
			good := append(dirs, dirtest.MustDir(t, leaves...))
			bad := append(dirs[:len(dirs):len(dirs)], dirtest.MustDir(t, append(leaves, missing)...))
			store := dirstore.NewMemory()
			s := closure.RequireBlobs(store, blobs)
			put := func(cl []*castore.Directory) (castore.Digest, error) {
				p := s.NewPutter(t.Context())
				for _, d := range cl {
					if err := p.Put(d); err != nil {
						return castore.Digest{}, err
					}
				}
				return p.Close()
			}
			_, err := put(bad)
			if !errors.Is(err, castore.ErrIncomplete) || !strings.Contains(err.Error(), `"missing"`) || !strings.Contains(err.Error(), missing.Node.Digest.String()) {
				t.Fatalf("a closure naming a missing blob: %v, want ErrIncomplete naming the entry and blob", err)
			}
			for _, d := range bad {
				if _, err := store.Get(t.Context(), d.Digest()); !errors.Is(err, castore.ErrNotFound) {
					t.Fatalf("directory %s stored from a refused closure (%v)", d.Digest(), err)
				}
			}
			mem.chunks.Store(0)
			root, err := put(good)
			if err != nil || root != good[len(good)-1].Digest() {
				t.Fatalf("a complete closure: %s, %v", root, err)
			}
			if n := mem.chunks.Load(); batched && n != 0 || !batched && n != 20+49 {
				t.Errorf("%d lookups one by one, want %d", n, map[bool]int{true: 0, false: 69}[batched])
			}
			// A structural error is still ErrInvalid.
			if _, err := put(good[len(good)-1:]); !errors.Is(err, castore.ErrInvalid) {
				t.Errorf("a root without its subdirectories: %v, want ErrInvalid", err)
			}
		})
	}
}
