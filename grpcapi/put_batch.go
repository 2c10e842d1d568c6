package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
)

// Small blobs cut here (each one chunk: most files of a source tree) go up
// together: chunks put while putBatchCalls calls are in flight wait and go
// in the next, up to putBatchChunks or putBatchBytes (compressed) a call
// (castore.v1.ChunkService.PutCompressedBatch). A chunk put while fewer
// calls are in flight goes at once, so a lone file waits for nothing. A
// server without the call gets each chunk in its own PutCompressed, as
// before.
const (
	putBatchCalls  = 4
	putBatchChunks = 256
	putBatchBytes  = 4 << 20
)

// putBatcher gathers the chunks of one BlobClient's small blobs.
type putBatcher struct {
	mu      sync.Mutex
	pending []*batchPut
	running int  // calls in flight
	off     bool // the server answered UNIMPLEMENTED: one call a chunk
}

// batchPut is one chunk waiting to be sent, and then for the answer.
type batchPut struct {
	ctx  context.Context
	cm   castore.ChunkMeta
	comp []byte
	done chan struct{}
	err  error
}

// putBatched sends one chunk, compressed as comp, in a batch with others
// put meanwhile. It returns when the server has stored the chunk's batch,
// or failed it, or ctx ends (the chunk may be stored anyway then).
func (c *BlobClient) putBatched(ctx context.Context, cm castore.ChunkMeta, comp []byte) error {
	b := &c.puts
	p := &batchPut{ctx: ctx, cm: cm, comp: comp, done: make(chan struct{})}
	b.mu.Lock()
	if b.off {
		b.mu.Unlock()
		return c.putOne(ctx, cm, comp)
	}
	b.pending = append(b.pending, p)
	if b.running < putBatchCalls {
		b.running++
		go c.runPuts()
	}
	b.mu.Unlock()
	select {
	case <-p.done:
	case <-ctx.Done():
		return fmt.Errorf("put chunk %s: %w", cm.Digest, context.Cause(ctx))
	}
	if errors.Is(p.err, castore.ErrUnsupported) {
		return c.putOne(ctx, cm, comp)
	}
	return p.err
}

// runPuts sends what is pending, a batch a call, until nothing is.
func (c *BlobClient) runPuts() {
	b := &c.puts
	for {
		b.mu.Lock()
		n, size := 0, 0
		for n < len(b.pending) && n < putBatchChunks && (n == 0 || size+len(b.pending[n].comp) <= putBatchBytes) {
			size += len(b.pending[n].comp)
			n++
		}
		if n == 0 {
			b.running--
			b.pending = nil
			b.mu.Unlock()
			return
		}
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		err := c.sendPuts(batch)
		for _, p := range batch {
			p.err = err
			close(p.done)
		}
	}
}

// sendPuts sends one batch in one call. The call lasts while any of its
// chunks' callers waits: it ends when every one of them has given up.
func (c *BlobClient) sendPuts(batch []*batchPut) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	defer cancel()
	waiting := len(batch)
	var mu sync.Mutex
	for _, p := range batch {
		stop := context.AfterFunc(p.ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if waiting--; waiting == 0 {
				cancel()
			}
		})
		defer stop()
	}
	what := fmt.Sprintf("put %d chunks (%s first)", len(batch), batch[0].cm.Digest)
	stream, err := c.chunks.PutCompressedBatch(ctx)
	if err == nil {
		for _, p := range batch {
			if err = stream.Send(&pb.PutCompressedRequest{Digest: p.cm.Digest[:], Size: p.cm.Size, Data: p.comp}); err != nil {
				break // CloseAndRecv says why
			}
		}
	}
	var resp *pb.PutCompressedBatchResponse
	if stream != nil {
		resp, err = stream.CloseAndRecv()
	}
	if status.Code(err) == codes.Unimplemented {
		c.puts.mu.Lock()
		c.puts.off = true
		c.puts.mu.Unlock()
		return fmt.Errorf("%s: the server cannot: %w", what, castore.ErrUnsupported)
	}
	if err != nil {
		return fromStatus(what, err)
	}
	if resp.GetStored() != uint64(len(batch)) {
		return fmt.Errorf("%s: the server says it stored %d: %w", what, resp.GetStored(), castore.ErrCorrupt)
	}
	return nil
}
