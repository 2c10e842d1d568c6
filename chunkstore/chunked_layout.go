package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	if l != c.o.ChunkLayout {
		c.other.seen.Store(true)
	}
}

// otherCheckEvery is how long a listing that found the layout not
// written empty is believed.
const otherCheckEvery = 5 * time.Minute

// otherLayout is what is known of the layout a store does not write.
type otherLayout struct {
	seen    atomic.Bool // a chunk was found there, or listed
	mu      sync.Mutex
	checked time.Time // when a listing last found it empty
}

// otherMayHold reports whether the layout not written may hold chunks: a
// chunk was found or listed there, or the listing that looks (one
// request, at most every otherCheckEvery) finds one or fails. Only
// Missing relies on a no, to ask about two keys of a blob not stored
// rather than three: one written there since the listing by another
// writer is taken as missing for up to otherCheckEvery, and written
// again in this store's layout, which costs its space and nothing else.
func (c *Chunked) otherMayHold(ctx context.Context) bool {
	if c.other.seen.Load() {
		return true
	}
	c.other.mu.Lock()
	defer c.other.mu.Unlock()
	if !c.other.checked.IsZero() && time.Since(c.other.checked) < otherCheckEvery {
		return false
	}
	for _, err := range c.store.List(ctx, layoutPrefix(c.o.ChunkLayout.Other())) {
		if err == nil {
			c.other.seen.Store(true)
		}
		return true // an error: it may
	}
	c.other.checked = time.Now()
	return false
}

// layoutPrefix is the key prefix of l's chunks ("chunks/b3/"): a chunk
// key without its last two parts.
func layoutPrefix(l chunkfmt.ChunkLayout) string {
	k := l.ChunkKey(castore.Digest{})
	k = k[:strings.LastIndexByte(k, '/')]
	return k[:strings.LastIndexByte(k, '/')+1]
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
