package gcsstore

import (
	"context"
	"time"

	"cloud.google.com/go/storage"

	"github.com/castore-go/castore/objectstore"
)

var (
	_ objectstore.Toucher = (*driver)(nil)
	_ objectstore.Copier  = (*driver)(nil)
)

// Touch updates the object's metadata, which moves its Updated time (it
// needs storage.objects.update, not delete: terraform/gcp grants it); the
// object's attributes are read first, to see that it did. A server that
// does not move Updated on a metadata update (fake-gcs-server, which the
// tests run against) gets a rewrite of the object onto itself, a new
// generation. A missing object is ErrNotFound.
func (g *driver) Touch(ctx context.Context, key string) error {
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	obj := g.bucket.Object(g.base + key)
	before, err := obj.Attrs(ctx)
	if err != nil {
		return g.mapErr("touch", key, err)
	}
	attrs, err := obj.If(storage.Conditions{GenerationMatch: before.Generation}).Update(ctx, storage.ObjectAttrsToUpdate{Metadata: map[string]string{"castore-touched": stamp}})
	if err != nil {
		return g.mapErr("touch", key, err)
	}
	if attrs.Updated.After(before.Updated) {
		return nil
	}
	c := obj.CopierFrom(obj)
	c.Metadata = map[string]string{"castore-touched": stamp}
	if _, err := c.Run(ctx); err != nil {
		return g.mapErr("touch", key, err)
	}
	return nil
}

// Copy copies src to dst server-side (a rewrite, repeated until done).
func (g *driver) Copy(ctx context.Context, src, dst string) error {
	c := g.bucket.Object(g.base + dst).Retryer(storage.WithPolicy(storage.RetryAlways)).CopierFrom(g.bucket.Object(g.base + src))
	if _, err := c.Run(ctx); err != nil {
		return g.mapErr("copy", src, err)
	}
	return nil
}
