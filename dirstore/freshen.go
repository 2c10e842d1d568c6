package dirstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
)

// DefaultFreshenAge is how old a bundle a writer relies on may be before
// it is touched (half of gc.DefaultGrace): see package gc.
const DefaultFreshenAge = 12 * time.Hour

var (
	_ castore.Freshener = (*Bundles)(nil)
	_ castore.Freshener = (*Cache)(nil)
)

// Freshen makes the bundles of roots fresh: each one older than
// DefaultFreshenAge is touched, so garbage collection keeps it, and with
// it its closure's blobs, for half its grace period. A root without a
// bundle is an error wrapping ErrNotFound.
func (b *Bundles) Freshen(ctx context.Context, roots []castore.Digest) error {
	for _, root := range roots {
		if err := b.freshen(ctx, root); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bundles) freshen(ctx context.Context, root castore.Digest) error {
	key := BundleKey(root)
	oi, err := b.store.Head(ctx, key)
	if errors.Is(err, objectstore.ErrNotFound) {
		return fmt.Errorf("freshen closure %s: %w", root, castore.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("freshen closure %s: %w", root, err)
	}
	if !oi.ModTime.Before(time.Now().Add(-DefaultFreshenAge)) {
		return nil
	}
	err = objectstore.Touch(ctx, b.store, key)
	switch {
	case errors.Is(err, castore.ErrUnsupported):
		return nil // a store garbage collection does not run on
	case errors.Is(err, objectstore.ErrNotFound):
		return fmt.Errorf("freshen closure %s: %w", root, castore.ErrNotFound)
	case ctx.Err() != nil:
		return fmt.Errorf("freshen closure %s: %w", root, err)
	case err != nil:
		// Denied, say: the write goes on, as without garbage collection.
		slog.WarnContext(ctx, "bundles: cannot touch a closure a write relies on; garbage collection (castore gc) is not safe against this writer until it can", "key", key, "err", err)
	}
	return nil
}

// Freshen freshens in far, the store garbage collection runs on.
func (c *Cache) Freshen(ctx context.Context, roots []castore.Digest) error {
	return castore.Freshen(ctx, c.far, roots)
}
