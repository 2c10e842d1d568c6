package grpcapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/castorepb/snixpb"
	"github.com/castore-go/castore/chunkfmt"
)

// BlobClient is a castore.BlobService backed by a remote
// tvix.castore.v1.BlobService. Everything it reads is verified here, so a
// misbehaving server cannot make it return wrong bytes.
type BlobClient struct {
	c      pb.BlobServiceClient
	chunks pb.ChunkServiceClient
	// noChunks is set once the server has answered castore.v1.ChunkService
	// with UNIMPLEMENTED (a tvix server, or a store that keeps no
	// compressed chunks): from then on every read uses Read.
	noChunks atomic.Bool
	// noBatch is set once the server has answered
	// castore.v1.ChunkService.ReadCompressedBatch with UNIMPLEMENTED.
	noBatch atomic.Bool
	// blobMetas records blobs cut here (chunk_upload.go); uploads is
	// whether the server takes them (uploadsUnknown until asked).
	blobMetas snixpb.BlobStoreServiceClient
	uploads   atomic.Int32
	uploadsMu sync.Mutex
	// noLists is set once the server has answered
	// castore.v1.ChunkService.PutChunkList with UNIMPLEMENTED: blobs cut
	// here are recorded with PutBlob then.
	noLists atomic.Bool
	// puts gathers small blobs' chunks into batches (put_batch.go).
	puts putBatcher
	// PlainReads makes every read use tvix.castore.v1.BlobService.Read,
	// as a tvix client does, instead of first asking
	// castore.v1.ChunkService for the chunk as stored: zstd-compressed,
	// decompressed and verified here. The compressed path moves a
	// fraction of the bytes and spares the server the decompression and
	// the verification.
	PlainReads bool
	// SpoolMemory is how much of an unchunked blob is held in memory while
	// it is verified; the rest is spooled to an unlinked temporary file.
	SpoolMemory int
	// ReadAhead is how many chunks a reader fetches ahead of the one being
	// read, each with its own Read call. The default, 8, is twice the
	// chunked store's: a chunk here costs a round trip on top of the
	// server's read, and with 4 in flight a 1 GiB read on loopback kept
	// 1.6 of 2 cores busy, with 8 1.8 (BenchmarkE2EBlob).
	ReadAhead int
}

// NewBlobClient returns a BlobService that talks to conn.
func NewBlobClient(conn grpc.ClientConnInterface) *BlobClient {
	return &BlobClient{c: pb.NewBlobServiceClient(conn), chunks: pb.NewChunkServiceClient(conn), blobMetas: snixpb.NewBlobStoreServiceClient(conn), SpoolMemory: 16 << 20, ReadAhead: 8}
}

var _ castore.BlobService = (*BlobClient)(nil)

// Has asks the server with one Stat.
func (c *BlobClient) Has(ctx context.Context, d castore.Digest) (bool, error) {
	_, err := c.c.Stat(ctx, &pb.StatBlobRequest{Digest: d[:]})
	err = fromStatus("stat blob "+d.String(), err)
	if errors.Is(err, castore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Chunks asks the server for the chunk list and validates it.
func (c *BlobClient) Chunks(ctx context.Context, d castore.Digest) ([]castore.ChunkMeta, error) {
	resp, err := c.c.Stat(ctx, &pb.StatBlobRequest{Digest: d[:], SendChunks: true})
	if err != nil {
		return nil, fromStatus("stat blob "+d.String(), err)
	}
	chunks, err := pb.ToChunks(resp)
	if err != nil {
		return nil, fmt.Errorf("stat blob %s: %w", d, err)
	}
	return chunks, nil
}

// Open stats the blob for its chunks and returns a reader that fetches only
// the chunks it reads, verifying each. A blob the server does not split is
// downloaded whole and verified before the first byte is returned.
func (c *BlobClient) Open(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	if d == castore.EmptyDigest {
		return nopCloser{bytes.NewReader(nil)}, nil
	}
	chunks, err := c.Chunks(ctx, d)
	if err != nil {
		return nil, err
	}
	if len(chunks) == 0 {
		return c.spool(ctx, d)
	}
	return chunkfmt.NewChunkReader(ctx, chunks, func(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
		return c.fetch(ctx, cm.Digest, cm.Size)
	}, c.ReadAhead), nil
}

// fetch reads one whole chunk of size bytes into memory and verifies it:
// compressed if the server can, else with Read.
func (c *BlobClient) fetch(ctx context.Context, d castore.Digest, size uint64) ([]byte, error) {
	if size <= chunkfmt.MaxChunkObject {
		if data, ok := c.fetchCompressed(ctx, d, int64(size)); ok {
			return data, nil
		}
	}
	return c.fetchPlain(ctx, d, size)
}

// fetchCompressed reads chunk d as stored through castore.v1.ChunkService,
// then decompresses and verifies it; size is its length, or -1 if not
// known. ok is false if that fails in any way: the server has no
// compressed copy (or no ChunkService, or the client reads plainly), or
// what came is not the chunk. The caller then uses Read, whose bytes the
// server verified: a cache whose copy of the chunk is damaged reads it
// from its far store then, where the compressed path would hand the
// damaged copy over every time.
func (c *BlobClient) fetchCompressed(ctx context.Context, d castore.Digest, size int64) (data []byte, ok bool) {
	comp, err := c.readCompressed(ctx, d, chunkfmt.CompressedLimit(size))
	if err != nil {
		return nil, false
	}
	data, err = chunkfmt.DecodeChunk(d, comp, size)
	return data, err == nil
}

var _ castore.CompressedChunkReader = (*BlobClient)(nil)

// ReadCompressedChunk returns chunk d's zstd data as the server stores it,
// unverified (chunkfmt.DecodeChunk checks it): a NearFar cache with
// this client as far keeps chunks as they come. A server without
// castore.v1.ChunkService (or a client with PlainReads) makes it
// unsupported.
func (c *BlobClient) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	return c.readCompressed(ctx, d, chunkfmt.CompressedLimit(-1))
}

// readCompressed reads chunk d's zstd data, refusing more than limit
// bytes.
func (c *BlobClient) readCompressed(ctx context.Context, d castore.Digest, limit int64) ([]byte, error) {
	if c.PlainReads || c.noChunks.Load() {
		return nil, fmt.Errorf("read chunk %s compressed: %w", d, castore.ErrUnsupported)
	}
	var comp []byte
	var err error
	for attempt := 0; ; attempt++ {
		var stream grpc.ServerStreamingClient[pb.CompressedData]
		stream, err = c.chunks.ReadCompressed(ctx, &pb.ReadCompressedRequest{Digest: d[:]})
		if err == nil {
			comp, err = recvData(stream, limit)
		}
		if err == nil || !restartRead(ctx, stream, err, attempt) {
			break
		}
	}
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			c.noChunks.Store(true)
		}
		return nil, fromStatus("read chunk "+d.String()+" compressed", err)
	}
	return comp, nil
}

// recvData receives a stream of data messages (BlobChunk, CompressedData)
// to its end, refusing more than limit bytes in all (an error wrapping
// castore.ErrCorrupt). The usual single message's bytes are used as they
// are: decoding copied them.
func recvData[M any, P interface {
	*M
	GetData() []byte
}](stream grpc.ServerStreamingClient[M], limit int64) ([]byte, error) {
	var buf []byte
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		data := P(msg).GetData()
		if int64(len(buf)+len(data)) > limit {
			return nil, fmt.Errorf("server sent more than %d bytes: %w", limit, castore.ErrCorrupt)
		}
		if buf == nil {
			buf = data
		} else {
			buf = append(buf, data...)
		}
	}
}

// fetchPlain reads one whole blob or chunk with Read into memory,
// refusing more than size bytes, and verifies it.
func (c *BlobClient) fetchPlain(ctx context.Context, d castore.Digest, size uint64) ([]byte, error) {
	var buf []byte
	for attempt := 0; ; attempt++ {
		stream, err := c.c.Read(ctx, &pb.ReadBlobRequest{Digest: d[:]})
		if err != nil {
			return nil, fromStatus("read chunk "+d.String(), err)
		}
		buf, err = recvData(stream, int64(min(size, math.MaxInt64)))
		if err == nil {
			break
		}
		if !restartRead(ctx, stream, err, attempt) {
			return nil, fromStatus("read chunk "+d.String(), err)
		}
	}
	if uint64(len(buf)) != size {
		return nil, fmt.Errorf("read chunk %s: got %d bytes, want %d: %w", d, len(buf), size, castore.ErrCorrupt)
	}
	if castore.Sum(buf) != d {
		return nil, fmt.Errorf("read chunk %s: content does not match its digest: %w", d, castore.ErrCorrupt)
	}
	return buf, nil
}

// spool downloads an unchunked blob, verifying it before handing it out.
// A blob the server keeps as one compressed chunk (at most
// chunkfmt.MaxChunkObject bytes) comes compressed, into memory; any
// other comes with Read, into memory up to SpoolMemory, beyond that into
// an unlinked temp file.
func (c *BlobClient) spool(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	if data, ok := c.fetchCompressed(ctx, d, -1); ok {
		return nopCloser{bytes.NewReader(data)}, nil
	}
	for attempt := 0; ; attempt++ {
		stream, err := c.c.Read(ctx, &pb.ReadBlobRequest{Digest: d[:]})
		if err != nil {
			return nil, fromStatus("read blob "+d.String(), err)
		}
		r, err := c.spoolStream(d, stream)
		if err == nil || !restartRead(ctx, stream, err, attempt) {
			return r, err
		}
	}
}

// spoolStream receives a blob's Read stream into memory or a temporary
// file, as spool says. A stream that breaks is an error keeping its
// status.
func (c *BlobClient) spoolStream(d castore.Digest, stream grpc.ServerStreamingClient[pb.BlobChunk]) (castore.BlobReader, error) {
	h := castore.NewHasher()
	var mem []byte
	var f *os.File
	fail := func(err error) (castore.BlobReader, error) {
		if f != nil {
			f.Close()
		}
		return nil, err
	}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fromStatus("read blob "+d.String(), err))
		}
		data := msg.GetData()
		h.Write(data)
		if f == nil && len(mem)+len(data) > c.SpoolMemory {
			if f, err = os.CreateTemp("", "castore-blob-*"); err != nil {
				return fail(fmt.Errorf("read blob %s: spool: %w", d, err))
			}
			os.Remove(f.Name())
			if _, err := f.Write(mem); err != nil {
				return fail(fmt.Errorf("read blob %s: spool: %w", d, err))
			}
			mem = nil
		}
		if f != nil {
			if _, err := f.Write(data); err != nil {
				return fail(fmt.Errorf("read blob %s: spool: %w", d, err))
			}
			continue
		}
		mem = append(mem, data...)
	}
	if h.Sum() != d {
		return fail(fmt.Errorf("read blob %s: content does not match its digest: %w", d, castore.ErrCorrupt))
	}
	if f == nil {
		return nopCloser{bytes.NewReader(mem)}, nil
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fail(fmt.Errorf("read blob %s: spool: %w", d, err))
	}
	return &fileReader{SectionReader: io.NewSectionReader(f, 0, size), f: f}, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

type fileReader struct {
	*io.SectionReader
	f *os.File
}

func (r *fileReader) Close() error { return r.f.Close() }

// Create streams a new blob to the server. The server's digest is checked
// against one computed here.
func (c *BlobClient) Create(ctx context.Context) castore.BlobWriter {
	return &blobWriter{ctx: ctx, c: c, h: castore.NewHasher()}
}

type blobWriter struct {
	ctx    context.Context
	c      *BlobClient
	h      *castore.Hasher
	stream grpc.ClientStreamingClient[pb.BlobChunk, pb.PutBlobResponse]
	err    error
	// buf gathers small writes into messages of ReadMessageSize bytes:
	// io.Copy writes 32 KiB at a time, and each message costs a frame,
	// an allocation and a wake-up at either end.
	buf []byte
}

func (w *blobWriter) open() error {
	if w.stream == nil && w.err == nil {
		w.stream, w.err = w.c.c.Put(w.ctx)
		w.err = fromStatus("put blob", w.err)
	}
	return w.err
}

// send sends one message. The stream encodes it before Send returns, so
// the bytes may be reused afterwards.
func (w *blobWriter) send(p []byte) error {
	if err := w.stream.Send(&pb.BlobChunk{Data: p}); err != nil {
		w.err = uploadBroken("put blob", w.stream)
		return w.err
	}
	return nil
}

func (w *blobWriter) Write(p []byte) (int, error) {
	if err := w.open(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) >= ReadMessageSize {
			if err := w.send(p[:ReadMessageSize]); err != nil {
				return 0, err
			}
			w.h.Write(p[:ReadMessageSize])
			p = p[ReadMessageSize:]
			continue
		}
		// The buffer grows as needed: a small blob holds a small one.
		k := min(len(p), ReadMessageSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		w.h.Write(p[:k])
		p = p[k:]
		if len(w.buf) == ReadMessageSize {
			if err := w.send(w.buf); err != nil {
				return 0, err
			}
			w.buf = w.buf[:0]
		}
	}
	return n, nil
}

func (w *blobWriter) Close() (castore.Digest, error) {
	if err := w.open(); err != nil {
		return castore.Digest{}, err
	}
	if len(w.buf) > 0 {
		if err := w.send(w.buf); err != nil {
			return castore.Digest{}, err
		}
		w.buf = nil
	}
	d, err := closeUpload(w.ctx, "put blob", w.stream, (*pb.PutBlobResponse).GetDigest)
	if err != nil {
		return castore.Digest{}, err
	}
	if want := w.h.Sum(); d != want {
		return castore.Digest{}, fmt.Errorf("put blob: server says %s, the bytes sent hash to %s: %w", d, want, castore.ErrCorrupt)
	}
	return d, nil
}
