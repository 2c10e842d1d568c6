package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/internal/bucket"
)

// The conditional calls (objectstore.Conditional) are S3's own: an
// object's version is its ETag; PutIfVersion is one PutObject with
// If-Match: ETAG (or If-None-Match: * for NoVersion). 412 Precondition
// Failed, 409 ConditionalRequestConflict (another conditional write of the
// key in flight) and 404 (no object to match) are ErrPrecondition. A
// conditional put is a single PutObject, so its body (these are for small
// records) is read into memory first, where the SDK can retry it.
//
// DeleteIfVersion is refused (errors.ErrUnsupported): DeleteObject's
// If-Match is recent in AWS, and a service that does not know it, as the
// MinIO pinned in the Makefile does not, ignores it and deletes whatever
// is there, which no caller could tell from a match. Callers write a
// tombstone with PutIfVersion instead (refstore does).

var _ objectstore.Conditional = (*driver)(nil)

func (s *driver) GetVersion(ctx context.Context, key string) (io.ReadCloser, objectstore.Version, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key)})
	if err != nil {
		return nil, objectstore.NoVersion, s.mapErr("get", key, err)
	}
	etag := aws.ToString(out.ETag)
	if etag == "" {
		out.Body.Close()
		return nil, objectstore.NoVersion, fmt.Errorf("get %q: the service sent no ETag", key)
	}
	return bucket.Reader("get", key, out.Body), objectstore.Version(etag), nil
}

func (s *driver) PutIfVersion(ctx context.Context, key string, r io.Reader, v objectstore.Version) (objectstore.Version, error) {
	data, err := io.ReadAll(objectstore.ContextReader(ctx, r))
	if err != nil {
		return objectstore.NoVersion, fmt.Errorf("put %q: %w", key, err)
	}
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key), Body: bytes.NewReader(data)}
	if v == objectstore.NoVersion {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(string(v))
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return objectstore.NoVersion, s.conditionalErr("put", key, err)
	}
	etag := aws.ToString(out.ETag)
	if etag == "" {
		return objectstore.NoVersion, fmt.Errorf("put %q: the service sent no ETag", key)
	}
	return objectstore.Version(etag), nil
}

func (s *driver) DeleteIfVersion(ctx context.Context, key string, v objectstore.Version) error {
	return fmt.Errorf("delete %q: conditional deletes (DeleteObject If-Match is ignored by services that predate it): %w", key, errors.ErrUnsupported)
}

func (s *driver) conditionalErr(op, key string, err error) error {
	switch httpStatus(err) {
	case http.StatusPreconditionFailed, http.StatusConflict, http.StatusNotFound:
		return fmt.Errorf("%w: %v", objectstore.PreconditionFailed(op, key), err)
	}
	return s.mapErr(op, key, err)
}
