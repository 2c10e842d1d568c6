package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// DefaultAvgChunkSize is FastCDC's average chunk size unless configured:
// chunks are then cut between 128 KiB and 512 KiB. Clients that cut blobs
// themselves use the same.
const DefaultAvgChunkSize = chunkfmt.DefaultAvgChunkSize

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
	// ChunkLayout is where new chunks go: tvix's chunks/b3/ (the default)
	// or snix's chunk/b3/. Chunks are read from both.
	ChunkLayout chunkfmt.ChunkLayout
	// Compression is the zstd level new chunks are stored at (default
	// chunkfmt.CompressionDefault); chunks of any level are read.
	Compression chunkfmt.Compression
	// Puts and PutBytes bound the puts of chunks and indexes in flight
	// from all of the store's writers together, in count and in bytes
	// (putlimit.go). Default DefaultPuts and DefaultPutBytes.
	Puts     int
	PutBytes int64
	// FreshenAge: an object a write relies on (a chunk it skips, an index
	// or blob found stored) that is older than this is touched first, so
	// garbage collection with a grace of twice this keeps it (package gc,
	// freshen.go). Default DefaultFreshenAge; negative turns it off.
	FreshenAge time.Duration
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
	if o.Puts <= 0 {
		o.Puts = DefaultPuts
	}
	if o.PutBytes <= 0 {
		o.PutBytes = DefaultPutBytes
	}
	if o.FreshenAge == 0 {
		o.FreshenAge = DefaultFreshenAge
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
	puts  *putLimit
	// readOther: chunks were last found in the layout not written
	// (chunked_layout.go).
	readOther atomic.Bool
	// other: what is known of the layout not written (chunked_layout.go).
	other otherLayout
	// noTouch: the object store cannot touch, so nothing is freshened
	// (freshen.go).
	noTouch atomic.Bool
	// headsIndexed: the object store answers Head from memory, so Has
	// asks Head rather than reading (hasByHead).
	headsIndexed bool
	// smallBufs and chunkBufs are writers' buffers (writebufs.go).
	smallBufs, chunkBufs bufPool
}

var _ castore.BlobService = (*Chunked)(nil)

// NewChunked returns a Chunked store on s.
func NewChunked(s objectstore.Store, o ChunkedOptions) (*Chunked, error) {
	o = o.withDefaults()
	layout, err := chunkfmt.ParseChunkLayout(string(o.ChunkLayout))
	if err != nil {
		return nil, fmt.Errorf("chunked store: %w", err)
	}
	o.ChunkLayout = layout
	if o.AvgChunkSize < 256 || o.AvgChunkSize > 64<<20 {
		return nil, fmt.Errorf("chunked store: average chunk size %d is outside 256 B .. 64 MiB", o.AvgChunkSize)
	}
	enc, err := chunkfmt.NewEncoderAt(o.Compression)
	if err != nil {
		return nil, err
	}
	c := &Chunked{store: s, o: o, known: newKnownSet(o.KnownChunks), enc: enc, m: newMetrics(), puts: newPutLimit(o.Puts, o.PutBytes)}
	c.headsIndexed = objectstore.HeadsIndexed(s)
	c.smallBufs.size, c.chunkBufs.size = o.AvgChunkSize/2, 2*o.AvgChunkSize
	if _, ok := s.(objectstore.Toucher); !ok {
		c.noTouch.Store(true) // nothing to freshen with (freshen.go)
	}
	return c, nil
}

// Close releases the store underneath.
func (c *Chunked) Close() error {
	return c.store.Close()
}

// Has reports whether d is a stored blob or chunk. A digest seen stored
// before costs no request; otherwise a chunk (or single-chunk blob) costs
// one and a chunked blob two. They are reads, not HEADs (sizeOf): the
// same number of requests, and the store learns the blob's size (the
// chunk's frame declares it, the index sums it), which StatBlobs then
// answers without another (a directory put after the client asked Has of
// its files). A store that answers Head from memory (a pack store) is
// asked Head instead, which reads nothing (hasByHead).
func (c *Chunked) Has(ctx context.Context, d castore.Digest) (bool, error) {
	return c.has(ctx, d, true)
}

// has is Has, looking in the layout not written only if other is set.
func (c *Chunked) has(ctx context.Context, d castore.Digest, other bool) (bool, error) {
	if d == castore.EmptyDigest || c.usable(d) {
		return true, nil
	}
	if c.headsIndexed {
		return c.hasByHead(ctx, d, other)
	}
	size, key, err := c.sizeOf(ctx, d, false, other)
	if err != nil {
		return false, fmt.Errorf("has blob %s: %w", d, err)
	}
	if key == "" {
		return false, nil
	}
	c.known.addSize(d, size) // -1 if it could not tell
	// A yes is relied on (an upload skipped): keep what it rests on
	// fresh, the object just found.
	if err := c.freshenKey(ctx, key, d, size); errors.Is(err, objectstore.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("has blob %s: %w", d, err)
	}
	return true, nil
}

// hasByHead is has on a store that answers Head from an index in
// memory (objectstore.IndexedHeads): the keys sizeOf would read, in its
// order, are asked Head instead, and the object found is freshened from
// what its Head said, with no second Head. Nothing is read, so the
// blob's size stays unknown (StatBlobs reads it if asked): a pack store
// answers a re-import's Has of every file from its index alone.
func (c *Chunked) hasByHead(ctx context.Context, d castore.Digest, other bool) (bool, error) {
	first, second := c.readLayouts()
	keys := [3]string{first.ChunkKey(d), chunkfmt.IndexKey(d), second.ChunkKey(d)}
	n := 3
	if !other && first == c.o.ChunkLayout {
		n = 2
	}
	for i, key := range keys[:n] {
		oi, err := c.store.Head(ctx, key)
		if errors.Is(err, objectstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("has blob %s: %w", d, err)
		}
		if i == 2 {
			c.found(second)
		}
		// A yes is relied on (an upload skipped): keep the object fresh.
		if err := c.freshenHeaded(ctx, key, d, -1, oi); errors.Is(err, objectstore.ErrNotFound) {
			return false, nil
		} else if err != nil {
			return false, fmt.Errorf("has blob %s: %w", d, err)
		}
		return true, nil
	}
	return false, nil
}

// holds reports whether d is stored, as a chunk (in either layout) or
// as an index, by asking the object store whether the keys exist: a
// NearFar deciding whether to fetch d needs no more (holder).
func (c *Chunked) holds(ctx context.Context, d castore.Digest) (bool, error) {
	if d == castore.EmptyDigest || c.known.has(d) {
		return true, nil
	}
	if ok, err := c.headChunk(ctx, d); err != nil || ok {
		return ok, err
	}
	_, err := c.store.Head(ctx, chunkfmt.IndexKey(d))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, objectstore.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("blob %s: %w", d, err)
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
	ok, err := c.headChunk(ctx, d)
	switch {
	case err != nil:
		return nil, fmt.Errorf("blob %s: %w", d, err)
	case !ok:
		return nil, fmt.Errorf("blob %s: %w", d, castore.ErrNotFound)
	}
	return nil, nil
}

var (
	_ castore.IndexPutter        = (*Chunked)(nil)
	_ castore.ChunkReaderService = (*Chunked)(nil)
)
