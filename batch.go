package castore

import "context"

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
	// it returns once each is cached or has failed. It is advice: a blob
	// it cannot fetch is left for its reader to fetch. fetched counts the
	// blobs it brought in and their bytes.
	Prefetch(ctx context.Context, blobs []ChunkMeta) (fetched PrefetchStats, err error)
}

// PrefetchStats counts what a prefetch brought in.
type PrefetchStats struct {
	Blobs int
	Bytes int64
}
