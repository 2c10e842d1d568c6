package gcsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/internal/bucket"
)

// The conditional calls (objectstore.Conditional) are GCS's generation
// preconditions: an object's version is its generation (a number new
// with every write, never reused for the name); PutIfVersion writes with
// GenerationMatch (DoesNotExist for NoVersion), DeleteIfVersion deletes
// that generation with GenerationMatch. 412 Precondition Failed, and 404
// for a delete of a missing object or generation, are ErrPrecondition. A conditional write is retried
// by the client library, which is safe: a retry of a write that landed
// fails its precondition only if another writer came between.

var _ objectstore.Conditional = (*driver)(nil)

func (g *driver) GetVersion(ctx context.Context, key string) (io.ReadCloser, objectstore.Version, error) {
	r, err := g.bucket.Object(g.base + key).NewReader(ctx)
	if err != nil {
		return nil, objectstore.NoVersion, g.mapErr("get", key, err)
	}
	return bucket.Reader("get", key, r), generation(r.Attrs.Generation), nil
}

func generation(n int64) objectstore.Version {
	return objectstore.Version(strconv.FormatInt(n, 10))
}

func parseGeneration(op, key string, v objectstore.Version) (int64, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w (not a generation: %q)", objectstore.PreconditionFailed(op, key), v)
	}
	return n, nil
}

func (g *driver) PutIfVersion(ctx context.Context, key string, r io.Reader, v objectstore.Version) (objectstore.Version, error) {
	cond := storage.Conditions{DoesNotExist: true}
	if v != objectstore.NoVersion {
		n, err := parseGeneration("put", key, v)
		if err != nil {
			return objectstore.NoVersion, err
		}
		cond = storage.Conditions{GenerationMatch: n}
	}
	data, err := io.ReadAll(objectstore.ContextReader(ctx, r))
	if err != nil {
		return objectstore.NoVersion, fmt.Errorf("put %q: %w", key, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := g.bucket.Object(g.base + key).If(cond).NewWriter(wctx)
	w.ChunkSize = chunkSize(bytes.NewReader(data))
	if _, err := w.Write(data); err != nil {
		cancel()
		w.Close()
		return objectstore.NoVersion, g.conditionalErr("put", key, err)
	}
	if err := w.Close(); err != nil {
		return objectstore.NoVersion, g.conditionalErr("put", key, err)
	}
	return generation(w.Attrs().Generation), nil
}

func (g *driver) DeleteIfVersion(ctx context.Context, key string, v objectstore.Version) error {
	if v == objectstore.NoVersion {
		return objectstore.PreconditionFailed("delete", key)
	}
	n, err := parseGeneration("delete", key, v)
	if err != nil {
		return err
	}
	// Both the generation to delete and the precondition on the live one:
	// GCS keeps the precondition, and fake-gcs-server, which ignores it,
	// deletes only the generation named, which in a bucket without
	// versioning is the live object or nothing.
	obj := g.bucket.Object(g.base + key).Generation(n).If(storage.Conditions{GenerationMatch: n})
	if err := obj.Delete(ctx); err != nil {
		if errors.Is(err, storage.ErrObjectNotExist) {
			return objectstore.PreconditionFailed("delete", key)
		}
		return g.conditionalErr("delete", key, err)
	}
	return nil
}

func (g *driver) conditionalErr(op, key string, err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) && (ge.Code == http.StatusPreconditionFailed || ge.Code == http.StatusNotFound) {
		return fmt.Errorf("%w: %v", objectstore.PreconditionFailed(op, key), err)
	}
	return g.mapErr(op, key, err)
}
