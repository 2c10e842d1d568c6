package castore

import (
	"context"
	"fmt"
)

// The optional capabilities of a BlobService: ways to move chunks that
// save work where both sides can (no decompressing and compressing again,
// no second request, no bytes written twice). A service that has one
// implements its interface; the functions below call it, and answer for a
// service without it with an error wrapping ErrUnsupported, so a caller
// handles "cannot" one way.
//
// A service that wraps another (a cache, a decorator, a closer) must not
// hide a capability of what it wraps by accident: it implements each
// interface here, either forwarding the call (with the function below, so
// that a service underneath without it refuses) or refusing it with an
// error wrapping ErrUnsupported. The gRPC server answers a refusal with
// UNIMPLEMENTED, as it does for a service without the interface, and
// every caller treats it as the capability's absence.
//
// Who has what: the chunked store (chunkstore.Chunked) all four; the gRPC
// client CompressedChunkReader; the near/far cache CompressedChunkReader
// and ChunkReaderService through the cache, refusing the two writers;
// the memory store none. chunkstore/blobtest checks each one a service
// claims.

// CompressedChunkReader is implemented by blob services that can hand
// over a chunk as stored, without decompressing or verifying it.
type CompressedChunkReader interface {
	// ReadCompressedChunk returns chunk d's zstd data as stored,
	// unverified: chunkfmt.DecodeChunk checks it. An error wrapping
	// ErrNotFound means there is no compressed copy of d here, though
	// Open may still read d (a blob of several chunks, a chunk a cache
	// lacks); one wrapping ErrUnsupported means there never is one (a
	// service in front of a store that keeps none).
	ReadCompressedChunk(ctx context.Context, d Digest) ([]byte, error)
}

// CompressedChunkWriter is implemented by blob services that can take a
// chunk already compressed.
type CompressedChunkWriter interface {
	// PutCompressedChunk stores comp as chunk d. comp must be zstd data
	// that decompresses to d's bytes: the caller has checked it with
	// chunkfmt.DecodeChunk.
	PutCompressedChunk(ctx context.Context, d Digest, comp []byte) error
}

// IndexPutter is implemented by blob services that can record a blob as
// the concatenation of chunks they already hold, without its bytes being
// written again. A near/far cache uses it to make a blob it read from far
// whole in near.
type IndexPutter interface {
	// PutIndex records blob d as chunks. It fails, and records nothing, if
	// any chunk is not stored.
	PutIndex(ctx context.Context, d Digest, chunks []ChunkMeta) error
}

// ChunkReaderService is implemented by blob services that read one chunk
// more cheaply than Open does (the chunked store: one request instead of
// two).
type ChunkReaderService interface {
	// ReadChunk returns exactly the verified bytes of cm, or an error
	// (wrapping ErrNotFound if it is not stored).
	ReadChunk(ctx context.Context, cm ChunkMeta) ([]byte, error)
}

// ReadCompressedChunk calls s's ReadCompressedChunk, or refuses for a
// service without one.
func ReadCompressedChunk(ctx context.Context, s BlobService, d Digest) ([]byte, error) {
	if c, ok := s.(CompressedChunkReader); ok {
		return c.ReadCompressedChunk(ctx, d)
	}
	return nil, unsupported("read chunk "+d.String()+" compressed", s)
}

// PutCompressedChunk calls s's PutCompressedChunk, or refuses for a
// service without one.
func PutCompressedChunk(ctx context.Context, s BlobService, d Digest, comp []byte) error {
	if c, ok := s.(CompressedChunkWriter); ok {
		return c.PutCompressedChunk(ctx, d, comp)
	}
	return unsupported("put chunk "+d.String()+" compressed", s)
}

// PutIndex calls s's PutIndex, or refuses for a service without one.
func PutIndex(ctx context.Context, s BlobService, d Digest, chunks []ChunkMeta) error {
	if c, ok := s.(IndexPutter); ok {
		return c.PutIndex(ctx, d, chunks)
	}
	return unsupported("put index of blob "+d.String(), s)
}

// ReadChunk calls s's ReadChunk, or refuses for a service without one
// (read the chunk with Open then).
func ReadChunk(ctx context.Context, s BlobService, cm ChunkMeta) ([]byte, error) {
	if c, ok := s.(ChunkReaderService); ok {
		return c.ReadChunk(ctx, cm)
	}
	return nil, unsupported("read chunk "+cm.Digest.String(), s)
}

// unsupported is a capability's refusal, wrapping ErrUnsupported. Its
// message is made only when asked for: refusals are expected on hot paths
// (an import to a local store is refused CreateChunked for every file),
// and formatting the type each time cost 3-5% of such an import's CPU.
func unsupported(op string, s BlobService) error {
	return &unsupportedError{op, s}
}

type unsupportedError struct {
	op string
	s  BlobService
}

func (e *unsupportedError) Error() string {
	return fmt.Sprintf("%s: %T cannot: %v", e.op, e.s, ErrUnsupported)
}

func (e *unsupportedError) Unwrap() error { return ErrUnsupported }
