package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// Chunks travel as they are stored where both ends can: zstd-compressed,
// verified by whoever decompresses them. A gRPC client reads them so
// (castore.v1.ChunkService), and a NearFar cache fills near so, without
// compressing again what far already compressed.

// CompressedChunkReader is implemented by blob services that can hand
// over a chunk as stored, without decompressing or verifying it.
type CompressedChunkReader interface {
	// ReadCompressedChunk returns chunk d's zstd data as stored,
	// unverified: chunkfmt.DecodeChunk checks it. An error wrapping
	// castore.ErrNotFound means there is no compressed copy of d here,
	// though Open may still read d (a blob of several chunks, a chunk a
	// cache lacks); one wrapping errors.ErrUnsupported means there never
	// is one (a service in front of a store that keeps none).
	ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error)
}

// CompressedChunkWriter is implemented by blob services that can take a
// chunk already compressed.
type CompressedChunkWriter interface {
	// PutCompressedChunk stores comp as chunk d. comp must be zstd data
	// that decompresses to d's bytes: the caller has checked it with
	// chunkfmt.DecodeChunk.
	PutCompressedChunk(ctx context.Context, d castore.Digest, comp []byte) error
}

var (
	_ CompressedChunkReader = (*Chunked)(nil)
	_ CompressedChunkWriter = (*Chunked)(nil)
)

// ReadCompressedChunk returns chunk d's stored object, unverified: one
// request, no decompression.
func (c *Chunked) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	buf := getCompBuf()
	defer putCompBuf(buf)
	if err := c.readObject(ctx, d, chunkfmt.CompressedLimit(-1), buf); err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return nil, fmt.Errorf("chunk %s: %w", d, castore.ErrNotFound)
		}
		return nil, err
	}
	return slices.Clone(buf.Bytes()), nil
}

// PutCompressedChunk stores comp, checked by the caller, as chunk d.
func (c *Chunked) PutCompressedChunk(ctx context.Context, d castore.Digest, comp []byte) error {
	return c.storeChunk(ctx, d, bytes.NewReader(comp))
}
