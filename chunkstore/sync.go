package chunkstore

import (
	"context"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
)

var _ castore.Syncer = (*Chunked)(nil)

// Sync makes the writes made under castore.DeferSync durable: the object
// store's Sync (a pack store defers them; every other store is durable
// per write, and this is nothing then).
func (c *Chunked) Sync(ctx context.Context) error {
	return objectstore.Sync(ctx, c.store)
}
