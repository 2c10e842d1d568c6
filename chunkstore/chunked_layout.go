package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// A Chunked store writes its chunks in one layout (ChunkedOptions.
// ChunkLayout: tvix's chunks/ or snix's chunk/) and reads them from
// either, so a bucket written by tvix, snix or castore reads back whatever
// the store is configured to write. Reads try first the layout that held
// the last chunk found (c.readFirst), so a bucket in the other layout
// costs one extra request only until its first chunk is found.

// readLayouts returns the two layouts in the order to try them.
func (c *Chunked) readLayouts() (first, second chunkfmt.ChunkLayout) {
	if c.readOther.Load() {
		return c.o.ChunkLayout.Other(), c.o.ChunkLayout
	}
	return c.o.ChunkLayout, c.o.ChunkLayout.Other()
}

// found notes the layout a chunk was found in.
func (c *Chunked) found(l chunkfmt.ChunkLayout) {
	c.readOther.Store(l != c.o.ChunkLayout)
}

// getChunk opens chunk d's object in either layout; objectstore.ErrNotFound
// if neither has it.
func (c *Chunked) getChunk(ctx context.Context, d castore.Digest) (io.ReadCloser, error) {
	first, second := c.readLayouts()
	r, err := c.store.Get(ctx, first.ChunkKey(d))
	if !errors.Is(err, objectstore.ErrNotFound) {
		return r, err
	}
	r, err = c.store.Get(ctx, second.ChunkKey(d))
	if err == nil {
		c.found(second)
	}
	return r, err
}

// headChunk reports whether chunk d is stored in either layout.
func (c *Chunked) headChunk(ctx context.Context, d castore.Digest) (bool, error) {
	first, second := c.readLayouts()
	for _, l := range []chunkfmt.ChunkLayout{first, second} {
		_, err := c.store.Head(ctx, l.ChunkKey(d))
		if err == nil {
			c.found(l)
			return true, nil
		}
		if !errors.Is(err, objectstore.ErrNotFound) {
			return false, fmt.Errorf("chunk %s: %w", d, err)
		}
	}
	return false, nil
}
