package fusefront

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"github.com/castore-go/castore"
)

// readerPool shares open BlobReaders among the reads of a blob, whichever
// file handle or path they come through, and keeps the most recently used
// idle ones open, so that the kernel's successive reads of a file reuse
// one reader and the chunks it fetched ahead. Idle readers beyond maxIdle
// are closed, least recently used first.
type readerPool struct {
	maxIdle int
	mu      sync.Mutex
	open    map[castore.Digest]*pooledReader
	idle    list.List // of *pooledReader with no users, oldest first
}

type pooledReader struct {
	d     castore.Digest
	size  uint64 // checked when it was opened
	users int
	elem  *list.Element // in idle, when users == 0
	ready chan struct{} // closed once r or err is set
	r     castore.BlobReader
	err   error
}

func newReaderPool(maxIdle int) *readerPool {
	return &readerPool{maxIdle: maxIdle, open: map[castore.Digest]*pooledReader{}}
}

// acquire returns the reader of d, opening it if nobody has it open, or
// waiting for the open another acquire is making. It runs in a store call
// (call), under the mount's context, and opens the blob in that call: an
// interrupted read leaves the open to finish, for the next acquire. The
// caller must release it. A failed open is not kept: the next acquire
// tries again.
func (p *readerPool) acquire(ctx context.Context, f *FS, d castore.Digest, size uint64) (*pooledReader, error) {
	p.mu.Lock()
	pr, ok := p.open[d]
	if !ok {
		pr = &pooledReader{d: d, size: size, ready: make(chan struct{})}
		p.open[d] = pr
	}
	pr.users++
	if pr.elem != nil {
		p.idle.Remove(pr.elem)
		pr.elem = nil
	}
	p.mu.Unlock()
	if !ok {
		r, err := castore.OpenSized(ctx, f.blobs, d, size)
		p.mu.Lock()
		pr.r, pr.err = r, err
		close(pr.ready)
		if err != nil && p.open[d] == pr {
			delete(p.open, d)
		}
		p.mu.Unlock()
	}
	select {
	case <-pr.ready:
	case <-ctx.Done():
		p.release(pr)
		return nil, ctx.Err()
	}
	if pr.err != nil {
		p.release(pr)
		return nil, pr.err
	}
	if pr.size != size {
		// Two file nodes name the blob with different sizes: at most one
		// is right, and the reader was checked against the other.
		p.release(pr)
		return nil, fmt.Errorf("blob %s was opened for a file node of %d bytes; this one says %d: %w", d, pr.size, size, castore.ErrCorrupt)
	}
	return pr, nil
}

// release gives back a reader acquire returned.
func (p *readerPool) release(pr *pooledReader) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr.users--
	// The last user is the one that opened it, if no other was: it is
	// open (or failed) by now.
	if pr.users > 0 {
		return
	}
	if pr.err != nil {
		return
	}
	p.idleLocked(pr)
}

// idleLocked puts an unused reader on the idle list, closing the oldest
// beyond the bound.
func (p *readerPool) idleLocked(pr *pooledReader) {
	pr.elem = p.idle.PushBack(pr)
	for p.idle.Len() > p.maxIdle {
		old := p.idle.Remove(p.idle.Front()).(*pooledReader)
		old.elem = nil
		delete(p.open, old.d)
		old.r.Close()
	}
}

// closeAll closes the idle readers (at unmount).
func (p *readerPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for e := p.idle.Front(); e != nil; e = e.Next() {
		pr := e.Value.(*pooledReader)
		delete(p.open, pr.d)
		pr.r.Close()
	}
	p.idle.Init()
}
