package ingest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/castore-go/castore"
)

// hasBatch asks a store that can (castore.MissingFinder) about many
// blobs in one call: questions asked while a call is in flight go
// together in the next one, so an import of many small files pays a
// round trip per batch, not per file. One call is in flight at a time;
// its size follows the files hashed meanwhile.
type hasBatch struct {
	ctx   context.Context
	blobs castore.BlobService
	alone atomic.Bool // the store refused: ask Has of each

	mu      sync.Mutex
	pending []*hasAsk
	running bool
}

// maxAsk is the most digests one call asks about.
const maxAsk = 1024

type hasAsk struct {
	d    castore.Digest
	done chan struct{}
	has  bool
	err  error
}

func newHasBatch(ctx context.Context, blobs castore.BlobService) *hasBatch {
	return &hasBatch{ctx: ctx, blobs: blobs}
}

// has reports whether the store has blob d.
func (b *hasBatch) has(d castore.Digest) (bool, error) {
	if b.alone.Load() {
		return b.blobs.Has(b.ctx, d)
	}
	a := &hasAsk{d: d, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, a)
	if !b.running {
		b.running = true
		go b.run()
	}
	b.mu.Unlock()
	select {
	case <-a.done:
	case <-b.ctx.Done():
		return false, b.ctx.Err()
	}
	if errors.Is(a.err, castore.ErrUnsupported) {
		return b.blobs.Has(b.ctx, d)
	}
	return a.has, a.err
}

// run asks about what is pending, a batch at a time, until nothing is.
func (b *hasBatch) run() {
	for {
		b.mu.Lock()
		n := min(len(b.pending), maxAsk)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		if n == 0 {
			b.running = false
			b.pending = nil
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		ds := make([]castore.Digest, n)
		for i, a := range batch {
			ds[i] = a.d
		}
		missing, err := castore.Missing(b.ctx, b.blobs, ds)
		if errors.Is(err, castore.ErrUnsupported) {
			b.alone.Store(true)
		}
		gone := make(map[castore.Digest]bool, len(missing))
		for _, d := range missing {
			gone[d] = true
		}
		for _, a := range batch {
			a.has, a.err = err == nil && !gone[a.d], err
			close(a.done)
		}
	}
}

// missingOf asks s which of the files' blobs it lacks, in batches; ok is
// false if s cannot say so (ask Has of each then).
func missingOf(ctx context.Context, s castore.BlobService, files []castore.Node) (lacks map[castore.Digest]bool, ok bool, err error) {
	ds := make([]castore.Digest, len(files))
	for i, f := range files {
		ds[i] = f.Digest
	}
	missing, err := castore.Missing(ctx, s, ds)
	switch {
	case errors.Is(err, castore.ErrUnsupported):
		return nil, false, nil
	case err != nil:
		return nil, true, err
	}
	lacks = make(map[castore.Digest]bool, len(missing))
	for _, d := range missing {
		lacks[d] = true
	}
	return lacks, true, nil
}
