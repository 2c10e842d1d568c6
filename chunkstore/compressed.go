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
	if c.headsIndexed {
		if comp, ok, err := c.readCompressedSized(ctx, d); ok || err != nil {
			return comp, err
		}
	}
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

// readCompressedSized is ReadCompressedChunk on a store that answers Head
// from memory (a pack store): it reads chunk d's object in the layout
// written first straight into a slice of the size its Head gives, where
// reading it into a pooled buffer and cloning that copied it twice more
// (and grew a buffer the collector had taken from the pool): a server
// checking a 96 MiB blob as its chunks (PutChunkList, PutBlob) spent twice
// as long reading them as hashing them. ok is false if the object is not
// there, or not of a chunk's size: the caller looks as it would have.
func (c *Chunked) readCompressedSized(ctx context.Context, d castore.Digest) (comp []byte, ok bool, err error) {
	first, _ := c.readLayouts()
	key := first.ChunkKey(d)
	oi, err := c.store.Head(ctx, key)
	if errors.Is(err, objectstore.ErrNotFound) || (err == nil && (oi.Size <= 0 || oi.Size > chunkfmt.CompressedLimit(-1))) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("chunk %s: %w", d, err)
	}
	r, err := c.store.Get(ctx, key)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, false, nil // gone since the Head
	}
	if err != nil {
		return nil, false, fmt.Errorf("chunk %s: %w", d, err)
	}
	defer r.Close()
	comp = make([]byte, oi.Size)
	_, err = io.ReadFull(r, comp)
	if err == nil {
		var more [1]byte
		if n, _ := r.Read(more[:]); n > 0 {
			err = fmt.Errorf("the object is larger than the %d bytes its Head says: %w", oi.Size, castore.ErrCorrupt)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("read chunk %s: %w", d, err)
	}
	return comp, true, nil
}
