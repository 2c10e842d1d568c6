package fusefront

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/castore-go/castore"
)

// countingBlobs counts successful opens and closes, and fails opens of digests in
// fail.
type countingBlobs struct {
	castore.BlobService
	opens, closes atomic.Int64
	fail          sync.Map
	gate          chan struct{} // if set, opens wait on it
}

type countedReader struct {
	castore.BlobReader
	c *countingBlobs
}

func (r countedReader) Close() error { r.c.closes.Add(1); return nil }

type emptyReader struct{ *bytes.Reader }

func (emptyReader) Close() error { return nil }

func (c *countingBlobs) Open(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	if c.gate != nil {
		<-c.gate
	}
	if _, bad := c.fail.Load(d); bad {
		return nil, castore.ErrNotFound
	}
	c.opens.Add(1)
	return countedReader{emptyReader{bytes.NewReader(nil)}, c}, nil // the pool's tests open blobs of size 0
}

func TestReaderPool(t *testing.T) {
	blobs := &countingBlobs{}
	f := newFS(blobs, nil, Options{})
	defer f.cancel()
	p := newReaderPool(2)
	ctx := context.Background()
	d := func(i byte) castore.Digest { return castore.Sum([]byte{i}) }

	// Concurrent users of one blob share one open.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			pr, err := p.acquire(ctx, f, d(1), 0)
			if err != nil {
				t.Error(err)
				return
			}
			p.release(pr)
		})
	}
	wg.Wait()
	if n := blobs.opens.Load(); n != 1 {
		t.Fatalf("20 users of one blob opened it %d times", n)
	}
	// Idle readers beyond the bound are closed, oldest first.
	for i := byte(2); i <= 4; i++ {
		pr, err := p.acquire(ctx, f, d(i), 0)
		if err != nil {
			t.Fatal(err)
		}
		p.release(pr)
	}
	if o, c := blobs.opens.Load(), blobs.closes.Load(); o != 4 || c != 2 {
		t.Fatalf("after 4 blobs with 2 idle kept: %d opens, %d closes", o, c)
	}
	if pr, _ := p.acquire(ctx, f, d(4), 0); pr == nil || blobs.opens.Load() != 4 {
		t.Fatal("the most recent blob was not kept open")
	} else {
		p.release(pr)
	}
	if pr, _ := p.acquire(ctx, f, d(1), 0); pr == nil || blobs.opens.Load() != 5 {
		t.Fatal("the oldest blob was kept open")
	} else {
		p.release(pr)
	}
	// A failed open is reported, and retried by the next acquire.
	blobs.fail.Store(d(9), true)
	if _, err := p.acquire(ctx, f, d(9), 0); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("open of a missing blob: %v", err)
	}
	blobs.fail.Delete(d(9))
	pr, err := p.acquire(ctx, f, d(9), 0)
	if err != nil {
		t.Fatalf("retry after a failed open: %v", err)
	}
	p.release(pr)
	// An interrupted read returns at once; the open its store call
	// started finishes and is kept for the next one.
	blobs.gate = make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = call(cctx, f, func(ctx context.Context) (*pooledReader, error) {
		pr, err := p.acquire(ctx, f, d(7), 0)
		if err == nil {
			p.release(pr)
		}
		return pr, err
	})
	if err != errInterrupted {
		t.Fatalf("interrupted read: %v", err)
	}
	before := blobs.opens.Load()
	close(blobs.gate)
	f.calls.Wait()
	if n := blobs.opens.Load(); n != before+1 {
		t.Fatalf("the interrupted read's open: %d opens, want %d", n, before+1)
	}
	pr, err = p.acquire(ctx, f, d(7), 0)
	if err != nil || blobs.opens.Load() != before+1 {
		t.Fatalf("acquire after an interrupted read: %v, %d opens (want %d)", err, blobs.opens.Load(), before+1)
	}
	p.release(pr)
	p.closeAll()
	if o, c := blobs.opens.Load(), blobs.closes.Load(); o != c {
		t.Errorf("after closeAll: %d opens, %d closes", o, c)
	}
}
