package gcsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/internal/bucket"
)

// Store is an objectstore.Store in a Google Cloud Storage bucket under a
// key prefix.
//
// A put streams through a storage.Writer whose context is cancelled if the
// reader fails or the put's context ends, so the upload is never
// finalized and no object appears. PutIfAbsent uses the DoesNotExist
// precondition; 412 Precondition Failed means "already there". Retries are
// the client library's, with plain puts marked retryable (they replace the
// whole object, so a retry cannot tear it).
type Store struct {
	*objectstore.Portable
}

// driver is the store's side of its Portable.
type driver struct {
	client     *storage.Client
	bucket     *storage.BucketHandle
	name, base string
	ownsClient bool
}

var _ objectstore.Store = (*driver)(nil)

// Writer buffer sizes: the client buffers one chunk per writer (to retry
// it), so small objects get a small buffer.
const (
	gcsMinChunk     = 256 << 10 // the unit GCS chunks must be a multiple of
	gcsDefaultChunk = 8 << 20
)

// New returns a store on bucket under prefix (a key prefix without
// leading or trailing '/', or "") using client, which the caller closes.
func New(client *storage.Client, bucketName, prefix string) (*Store, error) {
	d, err := newDriver(client, bucketName, prefix)
	if err != nil {
		return nil, err
	}
	return &Store{objectstore.NewPortable(d)}, nil
}

func newDriver(client *storage.Client, bucketName, prefix string) (*driver, error) {
	base, err := bucket.Prefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("gcs store: %w", err)
	}
	if bucketName == "" {
		return nil, errors.New("gcs store: no bucket")
	}
	return &driver{client: client, bucket: client.Bucket(bucketName), name: bucketName, base: base}, nil
}

// Get streams the object. Errors while reading name the key.
func (g *driver) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := g.bucket.Object(g.base + key).NewReader(ctx)
	if err != nil {
		return nil, g.mapErr("get", key, err)
	}
	return bucket.Reader("get", key, r), nil
}

// Head returns the object's size and when it or its metadata was last
// updated (Updated, which a Touch moves).
func (g *driver) Head(ctx context.Context, key string) (objectstore.ObjectInfo, error) {
	attrs, err := g.bucket.Object(g.base + key).Attrs(ctx)
	if err != nil {
		return objectstore.ObjectInfo{}, g.mapErr("head", key, err)
	}
	return objectstore.ObjectInfo{Key: key, Size: attrs.Size, ModTime: attrs.Updated}, nil
}

// Put uploads r, replacing any object under key.
func (g *driver) Put(ctx context.Context, key string, r io.Reader) error {
	_, err := g.write(ctx, key, r, false)
	return err
}

// PutIfAbsent uploads r with the DoesNotExist precondition.
func (g *driver) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	return g.write(ctx, key, r, true)
}

func (g *driver) write(ctx context.Context, key string, r io.Reader, ifAbsent bool) (bool, error) {
	// Cancelling wctx before Close abandons the upload unfinalized.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	obj := g.bucket.Object(g.base + key)
	if ifAbsent {
		obj = obj.If(storage.Conditions{DoesNotExist: true})
	} else {
		obj = obj.Retryer(storage.WithPolicy(storage.RetryAlways))
	}
	w := obj.NewWriter(wctx)
	w.ChunkSize = chunkSize(r)
	_, err := io.Copy(w, objectstore.ContextReader(ctx, r))
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		w.Close()
		if ifAbsent && isPreconditionFailed(err) {
			return false, nil
		}
		return false, g.mapErr("put", key, err)
	}
	if err := w.Close(); err != nil {
		if ifAbsent && isPreconditionFailed(err) {
			return false, nil
		}
		return false, g.mapErr("put", key, err)
	}
	return true, nil
}

// chunkSize sizes the writer's buffer: just above the body's length when
// it is known and small, so that the object goes up in one request.
func chunkSize(r io.Reader) int {
	lr, ok := r.(interface{ Len() int })
	if !ok {
		return gcsDefaultChunk
	}
	n := (lr.Len()/gcsMinChunk + 1) * gcsMinChunk
	return min(n, gcsDefaultChunk)
}

func isPreconditionFailed(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed
}

// Delete removes the object.
func (g *driver) Delete(ctx context.Context, key string) error {
	if err := g.bucket.Object(g.base + key).Delete(ctx); err != nil {
		return g.mapErr("delete", key, err)
	}
	return nil
}

// List pages through the bucket's objects under prefix in name order.
func (g *driver) List(ctx context.Context, prefix string) iter.Seq2[objectstore.ObjectInfo, error] {
	return func(yield func(objectstore.ObjectInfo, error) bool) {
		q := &storage.Query{Prefix: g.base + prefix, Projection: storage.ProjectionNoACL}
		if err := q.SetAttrSelection([]string{"Name", "Size", "Updated"}); err != nil {
			yield(objectstore.ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, err))
			return
		}
		it := g.bucket.Objects(ctx, q)
		for {
			attrs, err := it.Next()
			if err == iterator.Done {
				return
			}
			if err != nil {
				yield(objectstore.ObjectInfo{}, g.mapErr("list", prefix, err))
				return
			}
			key := strings.TrimPrefix(attrs.Name, g.base)
			if !yield(objectstore.ObjectInfo{Key: key, Size: attrs.Size, ModTime: attrs.Updated}, nil) {
				return
			}
		}
	}
}

// Close closes the client if Open created it.
func (g *driver) Close() error {
	if g.ownsClient {
		return g.client.Close()
	}
	return nil
}

// mapErr wraps err with op and key, as ErrNotFound for a missing object.
func (g *driver) mapErr(op, key string, err error) error {
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		return fmt.Errorf("%s %q: bucket %q does not exist: %w", op, key, g.name, err)
	case errors.Is(err, storage.ErrObjectNotExist):
		return objectstore.NotFound(op, key)
	}
	return fmt.Errorf("%s %q: %w", op, key, err)
}
