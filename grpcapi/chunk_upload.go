package grpcapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/castorepb/snixpb"
	"github.com/castore-go/castore/chunkfmt"
)

// Blobs cut here (castore.ChunkUploader): the writer cuts what it is
// given with FastCDC, as a server with the default chunk size would, asks
// the server in batches which chunks it lacks (castore.v1.ChunkService.
// Missing), sends those compressed (PutCompressed), several at once, and
// records the blob as its chunks, which the server verifies, unless the
// server had every chunk and has the blob too (one Stat). It records the
// blob with castore.v1.ChunkService.PutChunkList, opened once the server
// says it lacks a chunk, each batch's chunks named on it as soon as the
// server holds them all, so that the server checks the blob while the
// rest is cut and sent (a 96 MiB re-import over a 10 ms link waited
// 100 ms for PutBlob's check of the whole after the last chunk); a server
// without it gets snix.castore.v1.BlobStoreService.PutBlob at the end. A
// blob that changed in a few places sends only the chunks around the
// changes.

// Bounds of one writer's uploads: it asks about up to uploadBatch chunks
// (or uploadBatchBytes of them) a call, has up to uploadBatches such
// batches in flight (each holding its chunks' bytes until they are sent),
// and up to uploadPuts PutCompressed calls per batch. About 16 MiB a
// writer at most, in four questions at once: a 96 MiB file re-imported
// over a 10 ms link asked 24 times, four at once, where two of 8 MiB made
// the cutter wait (its questions ended at 230 against 280 ms).
const (
	uploadBatch      = 32
	uploadBatchBytes = 4 << 20
	uploadBatches    = 4
	uploadPuts       = 8
)

// cutAhead is how many chunks the cutter and the digester may each be
// ahead of the stage after them.
const cutAhead = 4

// The server's answer to the uploads, once known (BlobClient.uploads).
const (
	uploadsUnknown int32 = iota
	uploadsYes
	uploadsNo
)

var _ castore.ChunkUploader = (*BlobClient)(nil)

// CreateChunked starts a blob cut here, as above. A server without the
// calls (a tvix server, a castore server on a store that keeps no chunks)
// makes it unsupported: the first call asks, and the answer is kept.
func (c *BlobClient) CreateChunked(ctx context.Context) (castore.BlobWriter, error) {
	if err := c.askUploads(ctx); err != nil {
		return nil, err
	}
	return &chunkUploader{c: c, ctx: ctx, h: castore.NewHasher()}, nil
}

// askUploads asks the server, once, whether it takes chunks: a Missing
// of nothing. Callers at the same time wait for the one answer.
func (c *BlobClient) askUploads(ctx context.Context) error {
	if c.uploads.Load() == uploadsUnknown {
		c.uploadsMu.Lock()
		defer c.uploadsMu.Unlock()
	}
	switch c.uploads.Load() {
	case uploadsYes:
		return nil
	case uploadsNo:
		return fmt.Errorf("create a blob cut here: the server takes no chunks: %w", castore.ErrUnsupported)
	}
	_, err := c.chunks.Missing(ctx, &pb.MissingRequest{AsChunks: true})
	if status.Code(err) == codes.Unimplemented {
		c.uploads.Store(uploadsNo)
	}
	if err != nil {
		return fromStatus("ask the server whether it takes chunks", err)
	}
	c.uploads.Store(uploadsYes)
	return nil
}

// chunkEncoder compresses chunks for the wire and for stores, in this
// process's clients and servers alike.
var chunkEncoder = sync.OnceValues(chunkfmt.NewEncoder)

type chunkUploader struct {
	c   *BlobClient
	ctx context.Context
	h   *castore.Hasher // the whole blob's, fed the chunks in order

	// small holds what was written while it is no more than FastCDC's
	// minimum chunk: a blob that small is one chunk, sent on Close, in a
	// batch with other small blobs' (put_batch.go), without asking (a caller that cares asks Has first, as an import
	// with SkipKnown does); so is a larger blob that is one chunk.
	small []byte

	started, closed bool
	pw              *io.PipeWriter
	done            chan struct{} // the stages have returned
	stop            func() bool   // stops the watcher of gctx
	g               *errgroup.Group
	gctx            context.Context
	chunks          []castore.ChunkMeta // written by the digester
	cutErr          error
	sent            atomic.Int64 // chunks the server lacked, sent

	// The batches in the order cut, for the lister, which names each on
	// a PutChunkList stream once it is stored.
	batches chan *listBatch
	listed  chan struct{} // closed when the lister has returned
	list    grpc.ClientStreamingClient[pb.PutChunkListRequest, pb.PutChunkListResponse]
	pending []*pb.ListedChunk  // stored, not yet named: no stream yet
	cancel  context.CancelFunc // ends list
}

// listBatch is a batch of a blob's chunks on its way to being stored.
type listBatch struct {
	chunks []castore.ChunkMeta
	sent   int           // how many the server lacked; set before asked closes
	asked  chan struct{} // closed once the server has said which it lacks
	stored chan struct{} // closed once the server holds them all
}

func (w *chunkUploader) start() {
	w.started = true
	w.batches = make(chan *listBatch, 2*uploadBatches)
	w.listed = make(chan struct{})
	var listCtx context.Context
	listCtx, w.cancel = context.WithCancel(w.ctx)
	pr, pw := io.Pipe()
	w.pw = pw
	w.done = make(chan struct{})
	w.g, w.gctx = errgroup.WithContext(w.ctx)
	w.g.SetLimit(uploadBatches)
	w.stop = context.AfterFunc(w.gctx, func() { pr.CloseWithError(context.Cause(w.gctx)) })
	// Three stages, each its own goroutine, so that a large blob is cut,
	// its chunks hashed and the whole hashed on as many cores: the cutter
	// (FastCDC), the digester below (each chunk's digest, the batches)
	// and the whole blob's hasher. A 96 MiB re-import over a 10 ms link
	// spent 270 ms of its 460 ms doing the three one after another.
	cut := make(chan []byte, cutAhead)
	whole := make(chan []byte, cutAhead)
	hashed := make(chan struct{})
	go func() {
		defer close(cut)
		cutter, err := chunkfmt.NewCutter(pr, chunkfmt.DefaultAvgChunkSize)
		for err == nil {
			var chunk []byte
			if chunk, err = cutter.Next(); err == nil {
				cut <- bytes.Clone(chunk)
			}
		}
		if err != io.EOF {
			w.cutErr = err
			pr.CloseWithError(err)
		}
	}()
	go w.lister(listCtx)
	go func() {
		defer close(hashed)
		for data := range whole {
			w.h.Write(data)
		}
	}()
	go func() {
		defer func() {
			close(w.batches)
			close(whole)
			<-hashed
			close(w.done)
		}()
		var batch []pendingChunk
		var bytesIn int
		flush := func() {
			if len(batch) > 0 {
				b := batch
				lb := &listBatch{chunks: w.chunks[len(w.chunks)-len(b):], asked: make(chan struct{}), stored: make(chan struct{})}
				select {
				case w.batches <- lb:
				case <-w.gctx.Done():
				}
				w.g.Go(func() error {
					err := w.c.uploadBatch(w.gctx, b, func(n int) {
						w.sent.Add(int64(n))
						lb.sent = n
						close(lb.asked)
					})
					if err == nil {
						close(lb.stored)
					}
					return err
				})
				batch, bytesIn = nil, 0
			}
		}
		for data := range cut {
			whole <- data
			cm := castore.ChunkMeta{Digest: castore.Sum(data), Size: uint64(len(data))}
			w.chunks = append(w.chunks, cm)
			batch = append(batch, pendingChunk{cm, data})
			if bytesIn += len(data); len(batch) == uploadBatch || bytesIn >= uploadBatchBytes {
				flush()
			}
		}
		if w.cutErr != nil {
			return
		}
		if len(w.chunks) == 1 {
			// A blob of one chunk goes without asking, as a small one
			// does.
			p := batch[0]
			w.g.Go(func() error { return w.c.putSmall(w.gctx, p) })
			return
		}
		flush()
	}()
}

// lister names the blob's batches on a PutChunkList stream, in order, as
// each is stored, opening the stream once the server says it lacks
// chunks of one, and naming the batches before it (stored) at once, so
// that the server checks them while the missing chunks go up. (Opened
// only once the changed batch was stored, a 96 MiB re-import with 1 MiB
// changed over a 10 ms, 50 MB/s link began its check 40 ms later, after
// that batch's upload, and the server, checking about 1 GB/s, answered
// that much later.) Until then the server may have the blob already
// (Close asks), and need not be made to check it. It returns once every
// batch is stored, or the uploads failed.
func (w *chunkUploader) lister(ctx context.Context) {
	defer close(w.listed)
	failed := w.c.noLists.Load()
	wait := func(c chan struct{}) bool {
		select {
		case <-c:
			return true
		case <-w.gctx.Done():
			w.cancel() // the uploads failed: the blob is not recorded
			return false
		}
	}
	send := func() {
		if w.list.Send(&pb.PutChunkListRequest{Chunks: w.pending}) != nil {
			// The server ended the call (io.EOF): CloseAndRecv in
			// Close says why.
			failed = true
		}
		w.pending = nil
	}
	for lb := range w.batches {
		if !failed && w.list == nil {
			if !wait(lb.asked) {
				return
			}
			if lb.sent > 0 {
				list, err := w.c.chunks.PutChunkList(ctx)
				if err != nil {
					failed = true // Close records the blob with PutBlob
				} else {
					w.list = list
					if len(w.pending) > 0 {
						send()
					}
				}
			}
		}
		if !wait(lb.stored) {
			return
		}
		if failed {
			continue // drained, so that the digester never waits
		}
		for _, cm := range lb.chunks {
			w.pending = append(w.pending, &pb.ListedChunk{Digest: cm.Digest[:], Size: cm.Size})
		}
		if w.list != nil {
			send()
		}
	}
}

func (w *chunkUploader) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("write to a closed blob writer")
	}
	if err := w.ctx.Err(); err != nil {
		return 0, fmt.Errorf("put blob: %w", err)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.started {
		if len(w.small)+len(p) <= chunkfmt.DefaultAvgChunkSize/2 {
			w.small = append(w.small, p...)
			return len(p), nil
		}
		w.start()
		if len(w.small) > 0 {
			if _, err := w.pw.Write(w.small); err != nil {
				return 0, w.failed(err)
			}
			w.small = nil
		}
	}
	n, err := w.pw.Write(p)
	if err != nil {
		return n, w.failed(err)
	}
	return n, nil
}

// failed returns the reason the uploads stopped, if they did, else err.
func (w *chunkUploader) failed(err error) error {
	if cause := context.Cause(w.gctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	return fmt.Errorf("put blob: %w", err)
}

func (w *chunkUploader) Close() (castore.Digest, error) {
	if w.closed {
		return castore.Digest{}, errors.New("blob writer closed twice")
	}
	w.closed = true
	if !w.started {
		if err := w.ctx.Err(); err != nil {
			return castore.Digest{}, fmt.Errorf("put blob: %w", err)
		}
		if len(w.small) == 0 {
			return castore.EmptyDigest, nil
		}
		d := castore.Sum(w.small)
		if err := w.c.putSmall(w.ctx, pendingChunk{castore.ChunkMeta{Digest: d, Size: uint64(len(w.small))}, w.small}); err != nil {
			return castore.Digest{}, err
		}
		return d, nil
	}
	defer w.cancel() // ends a PutChunkList not closed: nothing is stored
	w.pw.Close()
	<-w.done
	<-w.listed // before Wait, which cancels gctx
	gerr := w.g.Wait()
	w.stop()
	switch {
	case gerr != nil:
		return castore.Digest{}, fmt.Errorf("put blob: %w", gerr)
	case w.cutErr != nil:
		return castore.Digest{}, fmt.Errorf("put blob: cut: %w", w.cutErr)
	}
	if err := w.ctx.Err(); err != nil {
		return castore.Digest{}, fmt.Errorf("put blob: %w", err)
	}
	d := w.h.Sum()
	if len(w.chunks) > 1 && w.sent.Load() == 0 {
		// The server had every chunk: it may have the blob too (a file
		// imported before), and then need not verify it again. If the
		// question fails, PutBlob says why.
		if ok, err := w.c.Has(w.ctx, d); err == nil && ok {
			return d, nil
		}
	}
	if len(w.chunks) > 1 {
		if err := w.record(d); err != nil {
			return castore.Digest{}, fromStatus("put blob "+d.String()+" as its chunks", err)
		}
	}
	return d, nil
}

// record records the blob, d, as its chunks: the end of the PutChunkList
// the lister began (its last chunks and d), or, if it began none (every
// chunk was stored already) or the server has no PutChunkList, PutBlob.
func (w *chunkUploader) record(d castore.Digest) error {
	if w.list != nil {
		err := w.list.Send(&pb.PutChunkListRequest{Chunks: w.pending, Digest: d[:]})
		if err == nil || err == io.EOF {
			// The server's answer, or why it ended the call.
			_, err = w.list.CloseAndRecv()
		}
		if status.Code(err) != codes.Unimplemented {
			return err
		}
		w.c.noLists.Store(true)
	}
	_, err := w.c.blobMetas.PutBlob(w.ctx, &snixpb.PutBlobRequest{Digest: d[:], BlobMeta: snixpb.FromChunks(w.chunks)})
	return err
}

// pendingChunk is a chunk cut and not yet known to be stored.
type pendingChunk struct {
	cm   castore.ChunkMeta
	data []byte
}

// uploadBatch asks the server which of the chunks it lacks, tells asked
// how many, and sends those, up to uploadPuts at once.
func (c *BlobClient) uploadBatch(ctx context.Context, batch []pendingChunk, asked func(missing int)) error {
	req := &pb.MissingRequest{AsChunks: true}
	byDigest := make(map[castore.Digest]pendingChunk, len(batch))
	for _, p := range batch {
		if _, dup := byDigest[p.cm.Digest]; !dup {
			byDigest[p.cm.Digest] = p
			req.Digests = append(req.Digests, p.cm.Digest[:])
		}
	}
	resp, err := c.chunks.Missing(ctx, req)
	if err != nil {
		return fromStatus(fmt.Sprintf("ask about %d chunks", len(req.Digests)), err)
	}
	if len(resp.GetMissing()) > len(req.Digests) {
		return fmt.Errorf("ask about %d chunks: the server says %d are missing: %w", len(req.Digests), len(resp.GetMissing()), castore.ErrCorrupt)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadPuts)
	asked(len(resp.GetMissing()))
	for _, b := range resp.GetMissing() {
		d, err := castore.DigestFromBytes(b)
		p, asked := byDigest[d]
		if err != nil || !asked {
			g.Wait()
			return fmt.Errorf("ask about %d chunks: the server answers with a digest not asked about (%x): %w", len(req.Digests), b, castore.ErrCorrupt)
		}
		delete(byDigest, d) // each once
		g.Go(func() error { return c.putCompressed(gctx, p) })
	}
	return g.Wait()
}

// putCompressed sends one chunk compressed, in a call of its own.
func (c *BlobClient) putCompressed(ctx context.Context, p pendingChunk) error {
	enc, err := chunkEncoder()
	if err != nil {
		return err
	}
	return c.putOne(ctx, p.cm, enc.Encode(p.data))
}

// putSmall sends the one chunk of a small blob compressed, in a batch
// with others (put_batch.go).
func (c *BlobClient) putSmall(ctx context.Context, p pendingChunk) error {
	enc, err := chunkEncoder()
	if err != nil {
		return err
	}
	return c.putBatched(ctx, p.cm, enc.Encode(p.data))
}

// putOne sends one chunk, compressed as comp, with PutCompressed.
func (c *BlobClient) putOne(ctx context.Context, cm castore.ChunkMeta, comp []byte) error {
	_, err := c.chunks.PutCompressed(ctx, &pb.PutCompressedRequest{Digest: cm.Digest[:], Size: cm.Size, Data: comp})
	return fromStatus("put chunk "+cm.Digest.String(), err)
}

var _ castore.MissingFinder = (*BlobClient)(nil)

// Missing asks the server which digests it lacks, MaxBatchDigests a call
// (castore.v1.ChunkService.Missing). A server without the call makes it
// unsupported; an answer that is not an ordered part of the question is
// an error wrapping castore.ErrCorrupt.
func (c *BlobClient) Missing(ctx context.Context, ds []castore.Digest) ([]castore.Digest, error) {
	if c.uploads.Load() == uploadsNo {
		return nil, fmt.Errorf("find missing blobs: the server cannot: %w", castore.ErrUnsupported)
	}
	var out []castore.Digest
	for len(ds) > 0 {
		n := min(len(ds), MaxBatchDigests)
		req := &pb.MissingRequest{Digests: make([][]byte, n)}
		for i := range n {
			req.Digests[i] = ds[i][:]
		}
		resp, err := c.chunks.Missing(ctx, req)
		if status.Code(err) == codes.Unimplemented {
			c.uploads.Store(uploadsNo)
		}
		if err != nil {
			return nil, fromStatus(fmt.Sprintf("find which of %d blobs are missing", n), err)
		}
		// The answer is the question with some digests left out.
		next := 0
		for _, b := range resp.GetMissing() {
			d, err := castore.DigestFromBytes(b)
			for err == nil && next < n && ds[next] != d {
				next++
			}
			if err != nil || next == n {
				return nil, fmt.Errorf("find which of %d blobs are missing: the server answers with a digest not asked about, or out of order (%x): %w", n, b, castore.ErrCorrupt)
			}
			out = append(out, d)
			next++
		}
		ds = ds[n:]
	}
	return out, nil
}
