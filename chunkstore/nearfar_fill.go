package chunkstore

import (
	"context"
	"errors"
	"sync"

	"github.com/castore-go/castore"
)

// indexFill fetches the chunks of one open blob and, once they are all in
// near, writes the blob's index there.
type indexFill struct {
	nf     *NearFar
	blob   castore.Digest
	chunks []castore.ChunkMeta
	index  bool // the index came from far: write it into near when complete

	mu      sync.Mutex
	have    []bool
	nHave   int
	written bool
}

func (f *indexFill) fetch(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
	data, inNear, err := f.nf.chunk(ctx, cm)
	if err != nil {
		return nil, err
	}
	if inNear && f.index {
		f.noteInNear(ctx, cm)
	}
	return data, nil
}

func (f *indexFill) noteInNear(ctx context.Context, cm castore.ChunkMeta) {
	if _, ok := f.nf.near.(castore.IndexPutter); !ok {
		return // no bookkeeping for an index near cannot take
	}
	f.mu.Lock()
	for i, c := range f.chunks {
		if c.Digest == cm.Digest && !f.have[i] {
			f.have[i] = true
			f.nHave++
		}
	}
	complete := f.nHave == len(f.chunks) && !f.written
	if complete {
		f.written = true
	}
	f.mu.Unlock()
	if complete {
		if err := castore.PutIndex(ctx, f.nf.near, f.blob, f.chunks); err != nil && !errors.Is(err, castore.ErrUnsupported) {
			f.nf.o.Logger.Warn("near cache cannot take a blob index", "blob", f.blob.String(), "err", err)
		}
	}
}
