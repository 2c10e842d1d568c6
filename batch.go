package castore

import (
	"context"
	"fmt"
	"io"
)

// BatchChunkReader is a BlobService that hands over many chunks as stored
// (zstd-compressed) in few calls: a remote store sends them on one round
// trip. It is the batched form of the single-chunk compressed read that
// near/far caches fill from.
type BatchChunkReader interface {
	// ReadCompressedChunks calls fn once per digest, in order, with the
	// chunk's stored data, unverified (the caller decompresses and
	// verifies it), or with nil for one the store keeps no compressed
	// copy of. A store that cannot batch returns an error wrapping
	// errors.ErrUnsupported.
	ReadCompressedChunks(ctx context.Context, ds []Digest, fn func(d Digest, comp []byte) error) error
}

// BlobBatchReader is a BlobService that reads many small whole blobs,
// verified, in few calls.
type BlobBatchReader interface {
	// ReadBlobs calls fn once per blob, in order, with exactly its bytes
	// (each checked against its digest and the size given); a blob that
	// is absent is an error wrapping ErrNotFound.
	ReadBlobs(ctx context.Context, blobs []ChunkMeta, fn func(b ChunkMeta, data []byte) error) error
}

// Prefetcher is a cache that can fetch blobs before anyone reads them.
type Prefetcher interface {
	// Prefetch makes the blobs local, fetching those it lacks in batches;
	// it returns once each is cached or has been left to its reader. It
	// is advice: a blob it cannot fetch is fetched by whoever reads it.
	Prefetch(ctx context.Context, blobs []ChunkMeta) error
	// PrefetchStats counts what prefetches brought in so far, and how
	// much of it has been read since.
	PrefetchStats() PrefetchStats
}

// PrefetchStats counts what a cache prefetched, and what of it was read.
type PrefetchStats struct {
	Blobs, UsedBlobs int64
	Bytes, UsedBytes int64
}

// ReadCompressedChunks calls s's ReadCompressedChunks, or refuses for a
// service without one.
func ReadCompressedChunks(ctx context.Context, s BlobService, ds []Digest, fn func(d Digest, comp []byte) error) error {
	if c, ok := s.(BatchChunkReader); ok {
		return c.ReadCompressedChunks(ctx, ds, fn)
	}
	return unsupported("read chunks in a batch", s)
}

// ReadBlobs calls s's ReadBlobs, or refuses for a service without one.
func ReadBlobs(ctx context.Context, s BlobService, blobs []ChunkMeta, fn func(b ChunkMeta, data []byte) error) error {
	if c, ok := s.(BlobBatchReader); ok {
		return c.ReadBlobs(ctx, blobs, fn)
	}
	return unsupported("read blobs in a batch", s)
}

// SizedOpener is a BlobService that opens a blob faster when told its
// size (from the file node that names it): a remote one asks for a blob
// small enough to be one chunk in one call, skipping the Stat that Open
// needs to find its chunks. The size is checked, never trusted: a blob
// of another size is an error wrapping ErrCorrupt.
type SizedOpener interface {
	OpenSized(ctx context.Context, d Digest, size uint64) (BlobReader, error)
}

// OpenSized opens blob d of the given size with s's OpenSized, or with
// Open for a service without one. Either way the size is checked before
// a byte is read (CheckedSize): every reader of a file node opens its
// blob so, and a blob of another size is an error naming both sizes,
// never bytes cut short or run on.
func OpenSized(ctx context.Context, s BlobService, d Digest, size uint64) (BlobReader, error) {
	if o, ok := s.(SizedOpener); ok {
		return o.OpenSized(ctx, d, size)
	}
	r, err := s.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	return CheckedSize(r, d, size)
}

// CheckedSize returns r if the blob it reads has exactly size bytes, and
// otherwise closes it and returns an error naming both sizes (wrapping
// ErrCorrupt). It seeks to find out, which costs a chunked reader no read.
func CheckedSize(r BlobReader, d Digest, size uint64) (BlobReader, error) {
	n, err := r.Seek(0, io.SeekEnd)
	if err == nil && uint64(n) != size {
		err = fmt.Errorf("blob %s has %d bytes, the file node says %d: %w", d, n, size, ErrCorrupt)
	}
	if err == nil {
		_, err = r.Seek(0, io.SeekStart)
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}
