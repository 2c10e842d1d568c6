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

// acquire returns the reader of d, opening it (under the mount's context)
// if nobody has it open. The caller must release it. A failed open is not
// kept: the next acquire tries again.
func (p *readerPool) acquire(ctx context.Context, f *FS, d castore.Digest, size uint64) (*pooledReader, error) {
	p.mu.Lock()
	pr, ok := p.open[d]
	if !ok {
		pr = &pooledReader{d: d, size: size, ready: make(chan struct{})}
		p.open[d] = pr
		go func() {
			r, err := call(f.ctx, f, func(ctx context.Context) (castore.BlobReader, error) { return castore.OpenSized(ctx, f.blobs, d, size) })
			p.mu.Lock()
			pr.r, pr.err = r, err
			close(pr.ready)
			switch {
			case err != nil:
				if p.open[d] == pr {
					delete(p.open, d)
				}
			case pr.users == 0:
				p.idleLocked(pr) // every user was interrupted
			}
			p.mu.Unlock()
		}()
	}
	pr.users++
	if pr.elem != nil {
		p.idle.Remove(pr.elem)
		pr.elem = nil
	}
	p.mu.Unlock()
	select {
	case <-pr.ready:
	case <-ctx.Done():
		p.release(pr)
		return nil, errInterrupted
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
	if pr.users > 0 {
		return
	}
	select {
	case <-pr.ready:
	default:
		// Still opening (its user was interrupted): keep it in open, so
		// that the open is not wasted; the next acquire waits for it.
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
