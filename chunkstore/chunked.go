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
	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// DefaultAvgChunkSize is FastCDC's average chunk size unless configured:
// chunks are then cut between 128 KiB and 512 KiB.
const DefaultAvgChunkSize = 256 << 10

// ChunkedOptions tune a Chunked store. The zero value is the default.
type ChunkedOptions struct {
	// AvgChunkSize is FastCDC's average; min is half of it, max twice.
	AvgChunkSize int
	// Uploads bounds the chunks one writer has in flight (hashed,
	// compressed, uploading), and so its memory: about Uploads x 2 x
	// (2 x AvgChunkSize). Default 2 x GOMAXPROCS, at least 16: a put
	// waits on the store (a sync of the file store, a round trip to a
	// bucket) with no CPU to spend, so the cores stay busy only with more
	// chunks in flight than there are cores. (Writing GOROOT-like data to
	// a File store on 2 shared cores, 16 in flight against the former 4:
	// faster in 5 of 6 alternating pairs, and 6-24% less CPU in all 6,
	// with fewer group-commit syncs per put; 32 was no better than 16.)
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
		o.Uploads = max(16, 2*runtime.GOMAXPROCS(0))
	}
	if o.ReadAhead <= 0 {
		o.ReadAhead = 4
	}
	if o.KnownChunks <= 0 {
		o.KnownChunks = 1 << 20
	}
	return o
}

// Chunked is a BlobService on an objectstore.Store in tvix's layout (see
// chunkfmt): chunks zstd-compressed under chunks/b3/, and an index of its
// chunks under blobs/b3/ for each blob of more than one. Writes cut blobs with FastCDC, upload new chunks in
// parallel with put-if-absent, and write the index last; reads verify
// every chunk's BLAKE3 before returning a byte of it.
type Chunked struct {
	store objectstore.Store
	o     ChunkedOptions
	known *knownSet
	enc   *chunkfmt.Encoder
	m     *metrics
}

var _ castore.BlobService = (*Chunked)(nil)

// NewChunked returns a Chunked store on s.
func NewChunked(s objectstore.Store, o ChunkedOptions) (*Chunked, error) {
	o = o.withDefaults()
	if o.AvgChunkSize < 256 || o.AvgChunkSize > 64<<20 {
		return nil, fmt.Errorf("chunked store: average chunk size %d is outside 256 B .. 64 MiB", o.AvgChunkSize)
	}
	enc, err := chunkfmt.NewEncoder()
	if err != nil {
		return nil, err
	}
	return &Chunked{store: s, o: o, known: newKnownSet(o.KnownChunks), enc: enc, m: newMetrics()}, nil
}

// Close releases the store underneath.
func (c *Chunked) Close() error {
	return c.store.Close()
}

// Has reports whether d is a stored blob or chunk. A digest seen stored
// before costs no request; otherwise a chunk (or single-chunk blob) costs
// one and a chunked blob two.
func (c *Chunked) Has(ctx context.Context, d castore.Digest) (bool, error) {
	if d == castore.EmptyDigest || c.known.has(d) {
		return true, nil
	}
	for _, key := range []string{chunkfmt.ChunkKey(d), chunkfmt.IndexKey(d)} {
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
	r, err := c.store.Get(ctx, chunkfmt.IndexKey(d))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, chunkfmt.MaxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("read index of blob %s: %w", d, err)
	}
	chunks, err := chunkfmt.DecodeIndex(b)
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
	if _, err := c.store.Head(ctx, chunkfmt.ChunkKey(d)); err != nil {
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
		return chunkfmt.NewChunkReader(ctx, chunks, c.fetch, c.o.ReadAhead), nil
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
	buf := getCompBuf()
	defer putCompBuf(buf)
	if err := c.readObject(ctx, d, chunkfmt.CompressedLimit(size), buf); err != nil {
		return nil, err
	}
	// buf is only decompressed here, never kept.
	data, err := chunkfmt.DecodeChunk(d, buf.Bytes(), size)
	if err != nil {
		return nil, err
	}
	c.known.add(d)
	return data, nil
}

// readObject reads chunk d's stored object into buf, refusing one larger
// than limit.
func (c *Chunked) readObject(ctx context.Context, d castore.Digest, limit int64, buf *bytes.Buffer) error {
	r, err := c.store.Get(ctx, chunkfmt.ChunkKey(d))
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return fmt.Errorf("read chunk %s: %w", d, err)
	}
	if int64(buf.Len()) > limit {
		return fmt.Errorf("chunk %s: stored object is larger than %d bytes: %w", d, limit, castore.ErrCorrupt)
	}
	return nil
}

// compBufs holds buffers for compressed chunks being read: a buffer that
// has grown to a chunk's size takes the next one in a single read, where
// io.ReadAll would start small and grow (a dozen reads and copies for a
// 50 KB chunk).
var compBufs sync.Pool

func getCompBuf() *bytes.Buffer {
	if b, ok := compBufs.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func putCompBuf(b *bytes.Buffer) {
	if b.Cap() > 4<<20 {
		return // a rare huge single-chunk blob: not worth holding on to
	}
	b.Reset()
	compBufs.Put(b)
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

	// small holds the bytes written so far while they are no more than
	// FastCDC's minimum chunk size: a blob that small is one chunk
	// whatever the cut points, so it is stored on Close without starting
	// the chunker (a goroutine, a pipe and a 2 x max-chunk buffer).
	small []byte

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
		gear.Lock()
		ch, err := fastcdc.NewChunker(gearUnlocked{pr}, fastcdc.Options{AverageSize: avg, MinSize: avg / 2, MaxSize: 2 * avg})
		gear.Unlock()
		if err != nil {
			w.cutErr = err
			pr.CloseWithError(err)
			return
		}
		for {
			gear.RLock()
			chunk, err := ch.Next()
			gear.RUnlock()
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

// gear orders fastcdc-go's uses of its package-level gear table.
// v0.2.0's NewChunker XORs the table with Options.Seed in place: with the
// seed left at 0 it writes back the same values, but those writes race
// with other chunkers reading the table in Next. So NewChunker runs under
// the write lock and Next under the read lock, which Next gives up while
// it waits to read input (gearUnlocked): a chunker waiting for its
// writer's bytes must not hold up another blob's NewChunker, as that blob
// may be what its writer is busy with.
var gear sync.RWMutex

// gearUnlocked is a chunker's input, read without the gear lock.
type gearUnlocked struct{ r io.Reader }

func (g gearUnlocked) Read(p []byte) (int, error) {
	gear.RUnlock()
	defer gear.RLock()
	return g.r.Read(p)
}

// putChunk stores a chunk unless it is known to be stored. The chunk is
// compressed only when the store reads it: stores that look before they
// read (file, memory) do not, when it is there already, as on a second
// import of the same tree.
func (c *Chunked) putChunk(ctx context.Context, d castore.Digest, data []byte) error {
	return c.storeChunk(ctx, d, &lazyChunk{enc: c.enc, data: data})
}

// storeChunk stores the chunk object body reads as, unless chunk d is
// known to be stored, and counts the write.
func (c *Chunked) storeChunk(ctx context.Context, d castore.Digest, body io.Reader) error {
	if c.known.has(d) {
		c.m.chunkWrite(ctx, false)
		return nil
	}
	created, err := c.store.PutIfAbsent(ctx, chunkfmt.ChunkKey(d), body)
	if err != nil {
		return fmt.Errorf("store chunk %s: %w", d, err)
	}
	c.m.chunkWrite(ctx, created)
	c.known.add(d)
	return nil
}

// lazyChunk reads as the zstd compression of data, compressed on first
// use. It is a bytes.Reader then (Read, Seek, ReadAt, WriteTo, Len, Size),
// so backends that want a length or a seekable body have one.
type lazyChunk struct {
	enc  *chunkfmt.Encoder
	data []byte
	r    *bytes.Reader
}

func (l *lazyChunk) reader() *bytes.Reader {
	if l.r == nil {
		l.r = bytes.NewReader(l.enc.Encode(l.data))
		l.data = nil
	}
	return l.r
}

func (l *lazyChunk) Read(p []byte) (int, error)                { return l.reader().Read(p) }
func (l *lazyChunk) ReadAt(p []byte, off int64) (int, error)   { return l.reader().ReadAt(p, off) }
func (l *lazyChunk) Seek(off int64, whence int) (int64, error) { return l.reader().Seek(off, whence) }
func (l *lazyChunk) WriteTo(w io.Writer) (int64, error)        { return l.reader().WriteTo(w) }
func (l *lazyChunk) Len() int                                  { return l.reader().Len() }
func (l *lazyChunk) Size() int64                               { return l.reader().Size() }

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
		if len(w.small)+len(p) <= w.c.o.AvgChunkSize/2 {
			w.small = append(w.small, p...)
			w.h.Write(p)
			w.n += int64(len(p))
			return len(p), nil
		}
		w.start()
		if len(w.small) > 0 {
			if _, err := w.pw.Write(w.small); err != nil {
				if e := w.err(); e != nil {
					err = e
				}
				return 0, fmt.Errorf("write blob: %w", err)
			}
			w.small = nil
		}
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
		if len(w.small) == 0 {
			return castore.EmptyDigest, nil
		}
		// One chunk: its digest is the blob's, and it has no index.
		d := w.h.Sum()
		if err := w.c.putChunk(w.ctx, d, w.small); err != nil {
			return castore.Digest{}, err
		}
		w.small = nil
		w.c.known.add(d)
		return d, nil
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
		if _, err := w.c.store.PutIfAbsent(w.ctx, chunkfmt.IndexKey(d), bytes.NewReader(chunkfmt.EncodeIndex(w.chunks))); err != nil {
			return castore.Digest{}, fmt.Errorf("store index of blob %s: %w", d, err)
		}
	}
	w.c.known.add(d)
	return d, nil
}

var (
	_ castore.IndexPutter        = (*Chunked)(nil)
	_ castore.ChunkReaderService = (*Chunked)(nil)
)

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
		if _, err := c.store.Head(ctx, chunkfmt.ChunkKey(cm.Digest)); err != nil {
			return fmt.Errorf("index of blob %s: chunk %s: %w", d, cm.Digest, err)
		}
		c.known.add(cm.Digest)
	}
	if _, err := c.store.PutIfAbsent(ctx, chunkfmt.IndexKey(d), bytes.NewReader(chunkfmt.EncodeIndex(chunks))); err != nil {
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
