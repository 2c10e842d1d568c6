package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/jotfs/fastcdc-go"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
)

// DefaultAvgChunkSize is FastCDC's average chunk size unless configured:
// chunks are then cut between 128 KiB and 512 KiB.
const DefaultAvgChunkSize = 256 << 10

// MaxChunkObject bounds what is read and decompressed for one chunk whose
// size is not known in advance (a single-chunk blob): a decompression bomb
// stops there.
const MaxChunkObject = 64 << 20

// ChunkedOptions tune a Chunked store. The zero value is the default.
type ChunkedOptions struct {
	// AvgChunkSize is FastCDC's average; min is half of it, max twice.
	AvgChunkSize int
	// Uploads bounds the chunks one writer has in flight (hashed,
	// compressed, uploading), and so its memory: about Uploads x 2 x
	// (2 x AvgChunkSize). Default 2 x GOMAXPROCS.
	Uploads int
	// ReadAhead is how many chunks a reader fetches ahead (default 4).
	ReadAhead int
	// KnownChunks bounds the in-memory set of chunks known to be stored
	// (default 1M digests, about 40 MB).
	KnownChunks int
}

func (o ChunkedOptions) withDefaults() ChunkedOptions {
	if o.AvgChunkSize <= 0 {
		o.AvgChunkSize = DefaultAvgChunkSize
	}
	if o.Uploads <= 0 {
		o.Uploads = 2 * runtime.GOMAXPROCS(0)
	}
	if o.ReadAhead <= 0 {
		o.ReadAhead = 4
	}
	if o.KnownChunks <= 0 {
		o.KnownChunks = 1 << 20
	}
	return o
}

// Chunked is a BlobService on an objectstore.Store in tvix's layout:
//
//	chunks/b3/<hex[0:4]>/<hex>   one chunk, zstd-compressed
//	blobs/b3/<hex[0:4]>/<hex>    the blob index: a StatBlobResponse listing
//	                             the chunks in order
//
// A blob of one chunk has no index (its digest is its chunk's); the empty
// blob has neither. Writes cut blobs with FastCDC, upload new chunks in
// parallel with put-if-absent, and write the index last; reads verify
// every chunk's BLAKE3 before returning a byte of it.
type Chunked struct {
	store objectstore.Store
	o     ChunkedOptions
	known *knownSet
	enc   *zstd.Encoder
	decs  sync.Pool // of *zstd.Decoder, each streaming with concurrency 1
	m     *metrics
}

var _ castore.BlobService = (*Chunked)(nil)

// NewChunked returns a Chunked store on s.
func NewChunked(s objectstore.Store, o ChunkedOptions) (*Chunked, error) {
	o = o.withDefaults()
	if o.AvgChunkSize < 256 || o.AvgChunkSize > 64<<20 {
		return nil, fmt.Errorf("chunked store: average chunk size %d is outside 256 B .. 64 MiB", o.AvgChunkSize)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, err
	}
	return &Chunked{store: s, o: o, known: newKnownSet(o.KnownChunks), enc: enc, m: newMetrics()}, nil
}

// Close releases the store underneath.
func (c *Chunked) Close() error {
	return c.store.Close()
}

func shard(prefix string, d castore.Digest) string {
	h := d.Hex()
	return prefix + h[:4] + "/" + h
}

// ChunkKey and IndexKey are the object keys of a chunk and a blob index.
func ChunkKey(d castore.Digest) string { return shard("chunks/b3/", d) }
func IndexKey(d castore.Digest) string { return shard("blobs/b3/", d) }

// Has reports whether d is a stored blob or chunk. A digest seen stored
// before costs no request; otherwise a chunk (or single-chunk blob) costs
// one and a chunked blob two.
func (c *Chunked) Has(ctx context.Context, d castore.Digest) (bool, error) {
	if d == castore.EmptyDigest || c.known.has(d) {
		return true, nil
	}
	for _, key := range []string{ChunkKey(d), IndexKey(d)} {
		_, err := c.store.Head(ctx, key)
		if err == nil {
			c.known.add(d)
			return true, nil
		}
		if !errors.Is(err, objectstore.ErrNotFound) {
			return false, fmt.Errorf("has blob %s: %w", d, err)
		}
	}
	return false, nil
}

// readIndex returns the chunks of d from its index, or ErrNotFound.
func (c *Chunked) readIndex(ctx context.Context, d castore.Digest) ([]castore.ChunkMeta, error) {
	r, err := c.store.Get(ctx, IndexKey(d))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, MaxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("read index of blob %s: %w", d, err)
	}
	chunks, err := DecodeIndex(b)
	if err != nil {
		return nil, fmt.Errorf("index of blob %s: %w", d, err)
	}
	return chunks, nil
}

// Chunks lists the chunks of a chunked blob; a single-chunk blob and a
// chunk have none.
func (c *Chunked) Chunks(ctx context.Context, d castore.Digest) ([]castore.ChunkMeta, error) {
	if d == castore.EmptyDigest {
		return nil, nil
	}
	chunks, err := c.readIndex(ctx, d)
	if err == nil {
		return chunks, nil
	}
	if !errors.Is(err, objectstore.ErrNotFound) {
		return nil, err
	}
	if _, err := c.store.Head(ctx, ChunkKey(d)); err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return nil, fmt.Errorf("blob %s: %w", d, castore.ErrNotFound)
		}
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return nil, nil
}

// Open returns a verifying reader for a blob or chunk.
func (c *Chunked) Open(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	if d == castore.EmptyDigest {
		return memReader{bytes.NewReader(nil)}, nil
	}
	chunks, err := c.readIndex(ctx, d)
	switch {
	case err == nil:
		return NewChunkReader(ctx, chunks, c.fetch, c.o.ReadAhead), nil
	case !errors.Is(err, objectstore.ErrNotFound):
		return nil, err
	}
	data, err := c.fetchChunk(ctx, d, -1)
	if err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return nil, fmt.Errorf("blob %s: %w", d, castore.ErrNotFound)
		}
		return nil, err
	}
	return memReader{bytes.NewReader(data)}, nil
}

func (c *Chunked) fetch(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
	data, err := c.fetchChunk(ctx, cm.Digest, int64(cm.Size))
	if errors.Is(err, objectstore.ErrNotFound) {
		// The index names it, so its absence is damage, not "not found".
		return nil, fmt.Errorf("chunk %s is missing from the store: %w", cm.Digest, castore.ErrCorrupt)
	}
	return data, err
}

// fetchChunk reads, decompresses and verifies one chunk; size is its
// length if known, or -1. The result is exactly the chunk's bytes.
func (c *Chunked) fetchChunk(ctx context.Context, d castore.Digest, size int64) ([]byte, error) {
	r, err := c.store.Get(ctx, ChunkKey(d))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	limit := int64(MaxChunkObject)
	if size >= 0 {
		limit = size + size/64 + 64<<10 // zstd never grows data more than this
	}
	comp, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read chunk %s: %w", d, err)
	}
	if int64(len(comp)) > limit {
		return nil, fmt.Errorf("chunk %s: stored object is larger than %d bytes: %w", d, limit, castore.ErrCorrupt)
	}
	data, err := c.decompress(d, comp, size)
	if err != nil {
		return nil, err
	}
	if castore.Sum(data) != d {
		return nil, fmt.Errorf("chunk %s: content does not match its digest: %w", d, castore.ErrCorrupt)
	}
	c.known.add(d)
	return data, nil
}

// decompress decodes a chunk object, stopping as soon as the output would
// exceed the chunk's size (or MaxChunkObject if that is unknown): a
// decompression bomb costs no more memory than the chunk it claims to be.
func (c *Chunked) decompress(d castore.Digest, comp []byte, size int64) ([]byte, error) {
	zr, _ := c.decs.Get().(*zstd.Decoder)
	if zr == nil {
		var err error
		zr, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(MaxChunkObject), zstd.WithDecoderMaxMemory(MaxChunkObject))
		if err != nil {
			return nil, err
		}
	}
	defer c.decs.Put(zr)
	if err := zr.Reset(bytes.NewReader(comp)); err != nil {
		return nil, fmt.Errorf("chunk %s: cannot decompress: %w: %w", d, castore.ErrCorrupt, err)
	}
	limit := size
	if size < 0 {
		limit = MaxChunkObject
	}
	var data []byte
	var err error
	if size >= 0 {
		data = make([]byte, size)
		_, err = io.ReadFull(zr, data)
	} else {
		data, err = io.ReadAll(io.LimitReader(zr, limit+1))
	}
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return nil, fmt.Errorf("chunk %s: decompresses to fewer bytes than the %d the index says: %w", d, size, castore.ErrCorrupt)
	case err != nil:
		return nil, fmt.Errorf("chunk %s: cannot decompress: %w: %w", d, castore.ErrCorrupt, err)
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("chunk %s: decompresses to more than %d bytes: %w", d, limit, castore.ErrCorrupt)
	}
	if size >= 0 {
		var one [1]byte
		if n, err := zr.Read(one[:]); n > 0 {
			return nil, fmt.Errorf("chunk %s: decompresses to more than the %d bytes the index says: %w", d, size, castore.ErrCorrupt)
		} else if err != nil && err != io.EOF {
			return nil, fmt.Errorf("chunk %s: cannot decompress: %w: %w", d, castore.ErrCorrupt, err)
		}
	}
	return data, nil
}

// Create starts a blob. Bytes are cut, hashed, compressed and uploaded as
// they are written; Close waits for every upload, then writes the index.
// Cancelling ctx abandons the blob: no index is written.
func (c *Chunked) Create(ctx context.Context) castore.BlobWriter {
	return &chunkedWriter{c: c, ctx: ctx, h: castore.NewHasher()}
}

type chunkedWriter struct {
	c   *Chunked
	ctx context.Context
	h   *castore.Hasher
	n   int64

	started bool
	closed  bool
	pw      *io.PipeWriter
	done    chan struct{}
	stop    func() bool // stops the ctx watcher
	g       *errgroup.Group
	gctx    context.Context
	chunks  []castore.ChunkMeta // written by the chunker goroutine
	cutErr  error

	errMu    sync.Mutex
	firstErr error
}

func (w *chunkedWriter) fail(err error) {
	w.errMu.Lock()
	if w.firstErr == nil {
		w.firstErr = err
	}
	w.errMu.Unlock()
}

func (w *chunkedWriter) err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.firstErr
}

func (w *chunkedWriter) start() {
	w.started = true
	pr, pw := io.Pipe()
	w.pw = pw
	w.done = make(chan struct{})
	w.g, w.gctx = errgroup.WithContext(w.ctx)
	w.g.SetLimit(w.c.o.Uploads)
	w.stop = context.AfterFunc(w.gctx, func() { pr.CloseWithError(context.Cause(w.gctx)) })
	avg := w.c.o.AvgChunkSize
	go func() {
		defer close(w.done)
		ch, err := fastcdc.NewChunker(pr, fastcdc.Options{AverageSize: avg, MinSize: avg / 2, MaxSize: 2 * avg})
		if err != nil {
			w.cutErr = err
			pr.CloseWithError(err)
			return
		}
		for {
			chunk, err := ch.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				w.cutErr = err
				pr.CloseWithError(err)
				return
			}
			data := bytes.Clone(chunk.Data)
			d := castore.Sum(data)
			w.chunks = append(w.chunks, castore.ChunkMeta{Digest: d, Size: uint64(len(data))})
			w.g.Go(func() error {
				if err := w.c.putChunk(w.gctx, d, data); err != nil {
					w.fail(err)
					return err
				}
				return nil
			})
		}
	}()
}

// putChunk stores a chunk unless it is known to be stored.
func (c *Chunked) putChunk(ctx context.Context, d castore.Digest, data []byte) error {
	if c.known.has(d) {
		c.m.chunkWrite(ctx, false)
		return nil
	}
	comp := c.enc.EncodeAll(data, make([]byte, 0, len(data)/2))
	created, err := c.store.PutIfAbsent(ctx, ChunkKey(d), bytes.NewReader(comp))
	if err != nil {
		return fmt.Errorf("store chunk %s: %w", d, err)
	}
	c.m.chunkWrite(ctx, created)
	c.known.add(d)
	return nil
}

func (w *chunkedWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("write to a closed blob writer")
	}
	if err := w.err(); err != nil {
		return 0, err
	}
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.started {
		w.start()
	}
	n, err := w.pw.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		if e := w.err(); e != nil {
			err = e
		}
		return n, fmt.Errorf("write blob: %w", err)
	}
	return n, nil
}

func (w *chunkedWriter) Close() (castore.Digest, error) {
	if w.closed {
		return castore.Digest{}, errors.New("blob writer closed twice")
	}
	w.closed = true
	if !w.started {
		if err := w.ctx.Err(); err != nil {
			return castore.Digest{}, err
		}
		return castore.EmptyDigest, nil
	}
	w.pw.Close()
	<-w.done
	gerr := w.g.Wait()
	w.stop()
	if err := w.err(); err != nil {
		return castore.Digest{}, err
	}
	if gerr != nil {
		return castore.Digest{}, gerr
	}
	if w.cutErr != nil {
		return castore.Digest{}, fmt.Errorf("chunk blob: %w", w.cutErr)
	}
	if err := w.ctx.Err(); err != nil {
		return castore.Digest{}, err
	}
	d := w.h.Sum()
	if len(w.chunks) > 1 {
		if _, err := w.c.store.PutIfAbsent(w.ctx, IndexKey(d), bytes.NewReader(EncodeIndex(w.chunks))); err != nil {
			return castore.Digest{}, fmt.Errorf("store index of blob %s: %w", d, err)
		}
	}
	w.c.known.add(d)
	return d, nil
}

var _ IndexPutter = (*Chunked)(nil)

// PutIndex records blob d as the concatenation of chunks, all of which
// must be stored already (each is checked, at no cost for chunks this
// store wrote or read). It lets a cache make a blob whole without writing
// its bytes again.
func (c *Chunked) PutIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta) error {
	if len(chunks) < 2 {
		return fmt.Errorf("index of blob %s: %d chunks; a blob of one chunk has no index", d, len(chunks))
	}
	for _, cm := range chunks {
		if c.known.has(cm.Digest) {
			continue
		}
		if _, err := c.store.Head(ctx, ChunkKey(cm.Digest)); err != nil {
			return fmt.Errorf("index of blob %s: chunk %s: %w", d, cm.Digest, err)
		}
		c.known.add(cm.Digest)
	}
	if _, err := c.store.PutIfAbsent(ctx, IndexKey(d), bytes.NewReader(EncodeIndex(chunks))); err != nil {
		return fmt.Errorf("store index of blob %s: %w", d, err)
	}
	c.known.add(d)
	return nil
}

// ReadChunk reads, decompresses and verifies one chunk with a single
// request. A chunk that is not stored is an error wrapping
// castore.ErrNotFound.
func (c *Chunked) ReadChunk(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
	data, err := c.fetchChunk(ctx, cm.Digest, int64(cm.Size))
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, fmt.Errorf("chunk %s: %w", cm.Digest, castore.ErrNotFound)
	}
	return data, err
}
