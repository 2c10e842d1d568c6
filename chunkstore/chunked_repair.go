package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// A cache's copy that fails verification is replaced (NearFar, near a
// Chunked store): chunks and indexes are written put-if-absent, which
// keeps a damaged object, so the repair overwrites it with the object
// store's Put, which replaces what is there. Only a cache does this: its
// copies come verified from far, and a store of record is repaired by
// `castore verify --repair-from`.

var _ repairer = (*Chunked)(nil)

// replaceChunk stores chunk d over whatever is stored as it, in each
// layout that holds an object for it (the write layout if none does):
// comp, the zstd data far passed, if not nil, else data compressed here.
// data is d's bytes, verified by the caller.
func (c *Chunked) replaceChunk(ctx context.Context, d castore.Digest, comp, data []byte) error {
	if comp == nil {
		comp = c.enc.Encode(data)
	}
	wrote := false
	for _, l := range []chunkfmt.ChunkLayout{c.o.ChunkLayout, c.o.ChunkLayout.Other()} {
		key := l.ChunkKey(d)
		if _, err := c.store.Head(ctx, key); errors.Is(err, objectstore.ErrNotFound) {
			continue
		} else if err != nil {
			return fmt.Errorf("replace chunk %s: %w", d, err)
		}
		if err := c.store.Put(ctx, key, bytes.NewReader(comp)); err != nil {
			return fmt.Errorf("replace chunk %s: %w", d, err)
		}
		wrote = true
	}
	if !wrote {
		if err := c.store.Put(ctx, c.o.ChunkLayout.ChunkKey(d), bytes.NewReader(comp)); err != nil {
			return fmt.Errorf("replace chunk %s: %w", d, err)
		}
	}
	c.known.addSize(d, int64(len(data)))
	return nil
}

// replaceIndex stores blob d's index over whatever is stored as it.
func (c *Chunked) replaceIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta) error {
	if err := c.store.Put(ctx, chunkfmt.IndexKey(d), bytes.NewReader(chunkfmt.EncodeIndex(chunks))); err != nil {
		return fmt.Errorf("replace index of blob %s: %w", d, err)
	}
	c.known.addSize(d, indexSize(chunks))
	return nil
}
