package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// Chunks travel as they are stored where both ends can: zstd-compressed,
// verified by whoever decompresses them. A gRPC client reads them so
// (castore.v1.ChunkService), and a NearFar cache fills near so, without
// compressing again what far already compressed.

var (
	_ castore.CompressedChunkReader = (*Chunked)(nil)
	_ castore.CompressedChunkWriter = (*Chunked)(nil)
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

// PutCompressedChunk stores comp, checked by the caller, as chunk d. The
// size its frame declares is remembered with it (StatBlobs answers with
// it then).
func (c *Chunked) PutCompressedChunk(ctx context.Context, d castore.Digest, comp []byte) error {
	size, err := frameSize(d, comp, false)
	if err != nil {
		return fmt.Errorf("put chunk %s compressed: %w", d, err)
	}
	return c.storeChunk(ctx, d, size, func() io.Reader { return bytes.NewReader(comp) })
}
