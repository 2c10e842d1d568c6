package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// Freshening: garbage collection (package gc) deletes an object nothing
// names once it is older than its grace period, so a writer that relies
// on an object being stored (a chunk it skips uploading, an index it
// finds there, a blob a Has said is stored) makes sure the object's time
// is no older than FreshenAge, half the grace, touching it if it is
// (objectstore.Touch). The known set remembers since when an object is
// fresh, and is trusted for FreshenAge only.

// DefaultFreshenAge is ChunkedOptions.FreshenAge unless set: half of
// gc.DefaultGrace.
const DefaultFreshenAge = 12 * time.Hour

var _ castore.Freshener = (*Chunked)(nil)

// freshening reports whether writes keep what they rely on fresh: on
// unless FreshenAge is negative or the object store cannot touch.
func (c *Chunked) freshening() bool { return c.o.FreshenAge > 0 && !c.noTouch.Load() }

// usable reports whether d may be relied on as stored without a request:
// it is known stored, and fresh when freshening.
func (c *Chunked) usable(d castore.Digest) bool {
	if !c.freshening() {
		return c.known.has(d)
	}
	return c.known.hasFresh(d, time.Now().Add(-c.o.FreshenAge))
}

// created records d as written at about began (a time before its put).
func (c *Chunked) created(d castore.Digest, size int64, began time.Time) {
	c.known.addFresh(d, size, began)
}

// freshenKey makes the object at key, which is d's, fresh: its time is
// read, and the object touched if it is older than FreshenAge. An object
// gone is an error wrapping ErrNotFound: the caller writes it again.
func (c *Chunked) freshenKey(ctx context.Context, key string, d castore.Digest, size int64) error {
	if !c.freshening() {
		c.known.addSize(d, size)
		return nil
	}
	oi, err := c.store.Head(ctx, key)
	if err != nil {
		return err
	}
	return c.freshenHeaded(ctx, key, d, size, oi)
}

// freshenHeaded is freshenKey of an object whose Head answered oi.
func (c *Chunked) freshenHeaded(ctx context.Context, key string, d castore.Digest, size int64, oi objectstore.ObjectInfo) error {
	if !c.freshening() {
		c.known.addSize(d, size)
		return nil
	}
	now := time.Now()
	if !oi.ModTime.Before(now.Add(-c.o.FreshenAge)) {
		c.known.addFresh(d, size, oi.ModTime)
		return nil
	}
	err := objectstore.Touch(ctx, c.store, key)
	switch {
	case errors.Is(err, castore.ErrUnsupported):
		c.noTouch.Store(true)
		c.known.addSize(d, size)
		return nil
	case errors.Is(err, objectstore.ErrNotFound), ctx.Err() != nil:
		return err
	case err != nil:
		// Denied, say (an identity without the right to touch): the write
		// goes on, as without garbage collection, and says so.
		touchFailed(ctx, key, err)
		c.known.addSize(d, size)
		return nil
	}
	c.m.touched(ctx)
	c.known.addFresh(d, size, now)
	return nil
}

// freshenBlob makes the object blob d's presence rests on fresh: its
// chunk for a blob of one, else its index (whose chunks garbage
// collection keeps as long as the index stays). ErrNotFound if neither
// is stored.
func (c *Chunked) freshenBlob(ctx context.Context, d castore.Digest) error {
	first, second := c.readLayouts()
	for _, key := range []string{first.ChunkKey(d), chunkfmt.IndexKey(d), second.ChunkKey(d)} {
		err := c.freshenKey(ctx, key, d, -1)
		if !errors.Is(err, objectstore.ErrNotFound) {
			return err
		}
	}
	return fmt.Errorf("blob %s: %w", d, castore.ErrNotFound)
}

// Freshen makes the stored objects of blobs ds fresh, so a caller may
// rely on them for FreshenAge (a directory put checked against them, a
// tag set on a root): see package gc. A blob not stored is an error
// wrapping ErrNotFound.
func (c *Chunked) Freshen(ctx context.Context, ds []castore.Digest) error {
	if !c.freshening() {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.o.Uploads)
	for _, d := range ds {
		if d == castore.EmptyDigest || c.usable(d) {
			continue
		}
		g.Go(func() error {
			if err := c.freshenBlob(gctx, d); err != nil {
				return fmt.Errorf("freshen blob %s: %w", d, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// touchedCounter counts the objects writers touched to keep them fresh.
var touchedCounter = sync.OnceValue(func() metric.Int64Counter {
	c, _ := otel.Meter("github.com/castore-go/castore/chunkstore").Int64Counter("castore_chunk_touches",
		metric.WithDescription("stored objects (chunks, blob indexes) a write relied on and touched to keep them from garbage collection"))
	return c
})

func (m *metrics) touched(ctx context.Context) { touchedCounter().Add(ctx, 1) }

var (
	_ castore.Freshener = (*NearFar)(nil)
	_ castore.Freshener = indexingFar{}
)

// Freshen freshens in far, the store garbage collection runs on (near is
// a cache, which drops what it likes).
func (nf *NearFar) Freshen(ctx context.Context, ds []castore.Digest) error {
	return castore.Freshen(ctx, nf.far, ds)
}

func (f indexingFar) Freshen(ctx context.Context, ds []castore.Digest) error {
	return castore.Freshen(ctx, f.BlobService, ds)
}

// ObjectStore returns the object store the chunked store keeps its
// objects in: what garbage collection (package gc) sweeps.
func (c *Chunked) ObjectStore() objectstore.Store { return c.store }

// touchFailed warns, at most once a minute, that a touch failed: garbage
// collection is then not safe against this writer.
func touchFailed(ctx context.Context, key string, err error) {
	now := time.Now().UnixNano()
	if last := lastTouchWarning.Load(); now-last < int64(time.Minute) || !lastTouchWarning.CompareAndSwap(last, now) {
		return
	}
	slog.WarnContext(ctx, "chunked store: cannot touch an object a write relies on; garbage collection (castore gc) is not safe against this writer until it can (grant it the object store's update or put on its own objects)", "key", key, "err", err)
}

var lastTouchWarning atomic.Int64
