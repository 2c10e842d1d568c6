package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

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
	c.known.addSize(d, int64(len(data)))
	return data, nil
}

// readObject reads chunk d's stored object into buf, refusing one larger
// than limit.
func (c *Chunked) readObject(ctx context.Context, d castore.Digest, limit int64, buf *bytes.Buffer) error {
	r, err := c.getChunk(ctx, d)
	if err != nil {
		return err
	}
	return readLimited(r, "chunk "+d.String(), limit, buf)
}

// readKey reads the object at key into buf, refusing one larger than
// limit.
func (c *Chunked) readKey(ctx context.Context, key string, limit int64, buf *bytes.Buffer) error {
	r, err := c.store.Get(ctx, key)
	if err != nil {
		return err
	}
	return readLimited(r, key, limit, buf)
}

// readLimited reads r into buf and closes it, refusing more than limit
// bytes.
func readLimited(r io.ReadCloser, what string, limit int64, buf *bytes.Buffer) error {
	defer r.Close()
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	if int64(buf.Len()) > limit {
		return fmt.Errorf("%s: stored object is larger than %d bytes: %w", what, limit, castore.ErrCorrupt)
	}
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
