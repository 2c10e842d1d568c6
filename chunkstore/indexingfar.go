package chunkstore

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// NewIndexingFar returns far as a NearFar cache on the object store near
// should see it: every chunk list asked of far is written into near at
// once (see indexingFar). A mount cache uses it.
func NewIndexingFar(far castore.BlobService, near objectstore.Store, log *slog.Logger) castore.BlobService {
	return indexingFar{far, near, log}
}

// indexingFar is far as NearFar sees it: when NearFar asks far for a
// blob's chunks (because near has no index for it), the index is written
// into near at once, not only once one reader has read every chunk (with
// the kernel's page cache in between, no single open may ever read them
// all). Until the chunks arrive, near's index names chunks it lacks,
// exactly as after an eviction; NearFar reads those from far.
type indexingFar struct {
	castore.BlobService
	near objectstore.Store
	log  *slog.Logger
}

func (f indexingFar) Chunks(ctx context.Context, d castore.Digest) ([]castore.ChunkMeta, error) {
	chunks, err := f.BlobService.Chunks(ctx, d)
	if err == nil && len(chunks) > 1 {
		if _, err := f.near.PutIfAbsent(ctx, chunkfmt.IndexKey(d), bytes.NewReader(chunkfmt.EncodeIndex(chunks))); err != nil {
			f.log.Warn("cache cannot take a blob index", "blob", d.String(), "err", err)
		}
	}
	return chunks, err
}

var (
	_ castore.CompressedChunkReader = indexingFar{}
	_ castore.CompressedChunkWriter = indexingFar{}
	_ castore.IndexPutter           = indexingFar{}
	_ castore.ChunkReaderService    = indexingFar{}
	_ castore.ChunkUploader         = indexingFar{}
	_ castore.MissingFinder         = indexingFar{}
	_ castore.BlobStatter           = indexingFar{}
)

func (f indexingFar) Missing(ctx context.Context, ds []castore.Digest) ([]castore.Digest, error) {
	return castore.Missing(ctx, f.BlobService, ds)
}

func (f indexingFar) CreateChunked(ctx context.Context) (castore.BlobWriter, error) {
	return castore.CreateChunked(ctx, f.BlobService)
}

// ReadCompressedChunk passes far's chunks on as far stores them, if far
// can: near keeps them so, without compressing them again. The other
// capabilities are far's too.
func (f indexingFar) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	return castore.ReadCompressedChunk(ctx, f.BlobService, d)
}

func (f indexingFar) PutCompressedChunk(ctx context.Context, d castore.Digest, comp []byte) error {
	return castore.PutCompressedChunk(ctx, f.BlobService, d, comp)
}

func (f indexingFar) PutIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta) error {
	return castore.PutIndex(ctx, f.BlobService, d, chunks)
}

func (f indexingFar) ReadChunk(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
	return castore.ReadChunk(ctx, f.BlobService, cm)
}

// ReadCompressedChunks and ReadBlobs pass far's batches on, if far can
// batch: the mount's prefetch fetches through them.
func (f indexingFar) ReadCompressedChunks(ctx context.Context, ds []castore.Digest, fn func(castore.Digest, []byte) error) error {
	return castore.ReadCompressedChunks(ctx, f.BlobService, ds, fn)
}

func (f indexingFar) ReadBlobs(ctx context.Context, blobs []castore.ChunkMeta, fn func(castore.ChunkMeta, []byte) error) error {
	return castore.ReadBlobs(ctx, f.BlobService, blobs, fn)
}

func (f indexingFar) OpenSized(ctx context.Context, d castore.Digest, size uint64) (castore.BlobReader, error) {
	return castore.OpenSized(ctx, f.BlobService, d, size)
}

func (f indexingFar) StatBlobs(ctx context.Context, ds []castore.Digest, fn func(castore.Digest, uint64, bool) error) error {
	return castore.StatBlobs(ctx, f.BlobService, ds, fn)
}
