package grpcapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkfmt"
)

// MaxBatchDigests is the most digests one ReadCompressedBatch call may
// name.
const MaxBatchDigests = 1024

// Bounds of what the server holds for one ReadCompressedBatch: it reads
// up to batchAhead chunks from its store ahead of the one it is sending
// (so a far store's round trips overlap), and starts no new read while
// batchBuffered bytes wait to be sent.
const (
	batchAhead    = 16
	batchBuffered = 32 << 20
)

// plainReadsInFlight is how many blobs ReadBlobs reads with Read at once
// (those a batch does not bring: blobs of several chunks, mostly).
const plainReadsInFlight = 16

// ReadCompressedBatch streams many chunks as stored, in the order asked,
// reading up to batchAhead of them from the store at once.
func (s *ChunkServer) ReadCompressedBatch(req *pb.ReadCompressedBatchRequest, stream grpc.ServerStreamingServer[pb.CompressedChunk]) error {
	raw := req.GetDigests()
	if len(raw) > MaxBatchDigests {
		return status.Errorf(codes.InvalidArgument, "digests: at most %d a call, got %d", MaxBatchDigests, len(raw))
	}
	ds := make([]castore.Digest, len(raw))
	for i, b := range raw {
		d, err := digestArg(fmt.Sprintf("digests[%d]", i), b)
		if err != nil {
			return err
		}
		ds[i] = d
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()

	type result struct {
		comp []byte
		err  error
	}
	results := make([]chan result, len(ds))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		buffered int
		running  int
	)
	// The reader starts reads in order, within the bounds; the loop below
	// sends them in order and frees their room.
	go func() {
		for i, d := range ds {
			mu.Lock()
			for (running >= batchAhead || buffered >= batchBuffered) && ctx.Err() == nil {
				cond.Wait()
			}
			if ctx.Err() != nil {
				mu.Unlock()
				return
			}
			running++
			mu.Unlock()
			go func() {
				comp, err := s.chunks.ReadCompressedChunk(ctx, d)
				mu.Lock()
				buffered += len(comp)
				mu.Unlock()
				results[i] <- result{comp, err}
			}()
		}
	}()
	// Wake the reader when the call ends early, so it stops.
	stop := context.AfterFunc(ctx, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
	defer stop()

	for i, d := range ds {
		var r result
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return toStatus(ctx.Err())
		}
		var err error
		switch {
		case r.err == nil:
			first := true
			_, err = sendInMessages(r.comp, func(b []byte) error {
				m := &pb.CompressedChunk{Data: b}
				if first {
					m.Digest, first = d[:], false
				}
				return stream.Send(m)
			})
		case errors.Is(r.err, castore.ErrNotFound):
			err = stream.Send(&pb.CompressedChunk{Digest: d[:], Missing: true})
		default:
			return toStatus(fmt.Errorf("chunk %s: %w", d, r.err))
		}
		mu.Lock()
		buffered -= len(r.comp)
		running--
		cond.Broadcast()
		mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadCompressedChunks reads many chunks as the server stores them
// (zstd), unverified, with one ReadCompressedBatch call per
// MaxBatchDigests digests. fn is called once per digest, in order, with
// its stored data, or with nil if the server holds no compressed copy of
// it (BlobService.Read may still have it). A server without the call (a
// tvix server, an older castore) makes it unsupported (errors.ErrUnsupported);
// a stream that breaks the protocol is an error wrapping castore.ErrCorrupt.
func (c *BlobClient) ReadCompressedChunks(ctx context.Context, ds []castore.Digest, fn func(d castore.Digest, comp []byte) error) error {
	for len(ds) > 0 {
		n := min(len(ds), MaxBatchDigests)
		if err := c.readBatch(ctx, ds[:n], fn); err != nil {
			return err
		}
		ds = ds[n:]
	}
	return nil
}

// readBatch reads at most MaxBatchDigests digests with
// ReadCompressedBatch. A stream that breaks after it began is started
// again for the chunks not yet handed to fn (retry.go).
func (c *BlobClient) readBatch(ctx context.Context, ds []castore.Digest, fn func(d castore.Digest, comp []byte) error) error {
	for attempt := 0; ; attempt++ {
		n, stream, broken, err := c.readBatchOnce(ctx, ds, fn)
		if err == nil || !broken || !restartRead(ctx, stream, err, attempt) {
			return err
		}
		if ds = ds[n:]; len(ds) == 0 {
			return nil
		}
	}
}

// readBatchOnce is one ReadCompressedBatch call. It returns how many of
// ds it handed to fn, and whether err is the stream's (it broke).
func (c *BlobClient) readBatchOnce(ctx context.Context, ds []castore.Digest, fn func(d castore.Digest, comp []byte) error) (n int, _ grpc.ClientStream, broken bool, _ error) {
	if c.PlainReads || c.noChunks.Load() || c.noBatch.Load() {
		return 0, nil, false, fmt.Errorf("read %d chunks compressed: %w", len(ds), errors.ErrUnsupported)
	}
	req := &pb.ReadCompressedBatchRequest{Digests: make([][]byte, len(ds))}
	for i := range ds {
		req.Digests[i] = ds[i][:]
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.chunks.ReadCompressedBatch(ctx, req)
	what := fmt.Sprintf("read %d chunks compressed", len(ds))
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			c.noBatch.Store(true)
		}
		return 0, nil, false, fromStatus(what, err)
	}
	given := fn
	fn = func(d castore.Digest, comp []byte) error {
		n++
		return given(d, comp)
	}
	err = recvBatch(stream, what, ds, fn)
	var be *batchBroken
	if errors.As(err, &be) {
		if status.Code(be.err) == codes.Unimplemented {
			c.noBatch.Store(true)
		}
		return n, stream, true, fromStatus(what, be.err)
	}
	return n, stream, false, err
}

// batchBroken is the error of a ReadCompressedBatch stream's Recv.
type batchBroken struct{ err error }

func (e *batchBroken) Error() string { return e.err.Error() }

// recvBatch receives a ReadCompressedBatch stream for ds, handing each
// chunk to fn in order.
func recvBatch(stream grpc.ServerStreamingClient[pb.CompressedChunk], what string, ds []castore.Digest, fn func(d castore.Digest, comp []byte) error) error {
	fail := func(err error) error { return &batchBroken{err} }
	limit := chunkfmt.CompressedLimit(-1)
	next := 0      // index in ds of the next chunk to start
	var cur []byte // data of the chunk being received
	var have bool  // a chunk is being received (ds[next-1])
	flush := func() error {
		if !have {
			return nil
		}
		have = false
		data := cur
		cur = nil
		return fn(ds[next-1], data)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%s: server %s: %w", what, fmt.Sprintf(format, args...), castore.ErrCorrupt)
	}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		if len(msg.GetDigest()) == 0 {
			if !have || msg.GetMissing() {
				return corrupt("sent data outside a chunk")
			}
			if int64(len(cur)+len(msg.GetData())) > limit {
				return corrupt("sent more than %d bytes for chunk %s", limit, ds[next-1])
			}
			cur = append(cur, msg.GetData()...)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if next >= len(ds) {
			return corrupt("sent more chunks than asked for")
		}
		if d, err := castore.DigestFromBytes(msg.GetDigest()); err != nil || d != ds[next] {
			return corrupt("sent chunk #%d out of order (want %s)", next, ds[next])
		}
		next++
		if msg.GetMissing() {
			if len(msg.GetData()) != 0 {
				return corrupt("sent data for missing chunk %s", ds[next-1])
			}
			if err := fn(ds[next-1], nil); err != nil {
				return err
			}
			continue
		}
		if len(msg.GetData()) == 0 {
			return corrupt("sent chunk %s with no data", ds[next-1])
		}
		cur, have = msg.GetData(), true
	}
	if err := flush(); err != nil {
		return err
	}
	if next != len(ds) {
		return corrupt("answered %d of %d chunks", next, len(ds))
	}
	return nil
}

var _ castore.BatchChunkReader = (*BlobClient)(nil)
var _ castore.BlobBatchReader = (*BlobClient)(nil)

// ReadBlobs reads whole blobs of known sizes, verified: those the server
// keeps as one chunk come in batches (ReadCompressedBatch), decompressed
// and checked here; any other (a blob of several chunks, a server without
// the batch call, a copy that does not check out) with one Read each,
// whose bytes are checked too. fn is called once per blob, in order, with
// exactly its bytes; a blob whose size is not the one given is an error
// naming both. Meant for batches of small blobs: the batch is held in
// memory.
func (c *BlobClient) ReadBlobs(ctx context.Context, blobs []castore.ChunkMeta, fn func(castore.ChunkMeta, []byte) error) error {
	ds := make([]castore.Digest, 0, len(blobs))
	for _, b := range blobs {
		// The empty blob needs no call; one too large to be a chunk is Read.
		if b.Digest != castore.EmptyDigest && b.Size <= chunkfmt.MaxChunkObject {
			ds = append(ds, b.Digest)
		}
	}
	got := make(map[castore.Digest][]byte, len(ds))
	err := c.ReadCompressedChunks(ctx, ds, func(d castore.Digest, comp []byte) error {
		if comp != nil {
			got[d] = comp
		}
		return nil
	})
	if err != nil && ctx.Err() != nil {
		return err
	}
	// Any other failure of the batch (no batch call, a broken stream, a
	// hostile server), and every blob the server keeps in several chunks,
	// is read with Read: many at once, each verified.
	datas := make(map[castore.Digest][]byte, len(blobs))
	var plain []castore.ChunkMeta
	for _, b := range blobs {
		if _, done := datas[b.Digest]; done || b.Digest == castore.EmptyDigest {
			continue
		}
		if comp, ok := got[b.Digest]; ok {
			if data, err := chunkfmt.DecodeChunk(b.Digest, comp, int64(b.Size)); err == nil {
				datas[b.Digest] = data
				continue
			}
			// Not as stored: the server verifies what Read serves.
		}
		datas[b.Digest] = nil
		plain = append(plain, b)
	}
	got = nil
	var mu sync.Mutex
	errs := map[castore.Digest]error{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(plainReadsInFlight)
	for _, b := range plain {
		g.Go(func() error {
			data, err := c.fetchPlain(gctx, b.Digest, b.Size)
			mu.Lock()
			datas[b.Digest], errs[b.Digest] = data, err
			mu.Unlock()
			return nil // reported in order below
		})
	}
	g.Wait()
	for _, b := range blobs {
		if err := errs[b.Digest]; err != nil {
			return err
		}
		data := datas[b.Digest]
		if uint64(len(data)) != b.Size {
			return fmt.Errorf("read blob %s: it has %d bytes, the node says %d: %w", b.Digest, len(data), b.Size, castore.ErrCorrupt)
		}
		if err := fn(b, data); err != nil {
			return err
		}
	}
	return nil
}

// sizedOpenMax is the largest blob OpenSized reads whole in one call.
const sizedOpenMax = 1 << 20

var _ castore.SizedOpener = (*BlobClient)(nil)

// OpenSized reads a blob of at most 1 MiB whole with one call
// (ReadBlobs: one batch, or one Read for a blob of several chunks),
// checking its size; a larger one opens as Open does, its size checked.
func (c *BlobClient) OpenSized(ctx context.Context, d castore.Digest, size uint64) (castore.BlobReader, error) {
	if size > sizedOpenMax || d == castore.EmptyDigest {
		r, err := c.Open(ctx, d)
		if err != nil {
			return nil, err
		}
		return castore.CheckedSize(r, d, size)
	}
	var data []byte
	err := c.ReadBlobs(ctx, []castore.ChunkMeta{{Digest: d, Size: size}}, func(_ castore.ChunkMeta, b []byte) error {
		data = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	return nopCloser{bytes.NewReader(data)}, nil
}
