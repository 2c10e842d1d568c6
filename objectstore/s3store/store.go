package s3store

//lint:file-ignore SA1019 feature/s3/manager is deprecated in favour of feature/s3/transfermanager, a new module not in go.mod yet; manager still works and its abort-on-failure is what Put relies on. Migrate in one change with its tests.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/internal/bucket"
)

// Store is an objectstore.Store in an S3 bucket (or any S3-compatible
// service) under a key prefix.
//
// Puts go through the SDK's upload manager: a body of known size up to one
// part (5 MiB) is a single PutObject, anything larger or of unknown size is
// a multipart upload that is aborted if it fails, so no parts are left
// behind. PutIfAbsent sends If-None-Match: * and treats 412 Precondition
// Failed as "already there". Retries are the SDK's standard retryer, and
// every call honours its context's deadline.
type Store struct {
	*objectstore.Portable
}

// driver is the store's side of its Portable.
type driver struct {
	client   *s3.Client
	uploader *manager.Uploader
	bucket   string
	base     string // "" or a prefix ending in '/'
}

var _ objectstore.Store = (*driver)(nil)

// abortTimeout bounds the clean-up of a failed multipart upload, which runs
// even when the put's context is cancelled.
const abortTimeout = 30 * time.Second

// New returns a store on bucket under prefix (a key prefix without
// leading or trailing '/', or "") using client.
func New(client *s3.Client, bucketName, prefix string) (*Store, error) {
	base, err := bucket.Prefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("s3 store: %w", err)
	}
	if bucketName == "" {
		return nil, errors.New("s3 store: no bucket")
	}
	return &Store{objectstore.NewPortable(&driver{
		client:   client,
		uploader: manager.NewUploader(client),
		bucket:   bucketName,
		base:     base,
	})}, nil
}

// Get streams the object. Errors while reading name the key.
func (s *driver) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key)})
	if err != nil {
		return nil, s.mapErr("get", key, err)
	}
	return bucket.Reader("get", key, out.Body), nil
}

// Head returns the object's size and Last-Modified time.
func (s *driver) Head(ctx context.Context, key string) (objectstore.ObjectInfo, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key)})
	if err != nil {
		return objectstore.ObjectInfo{}, s.mapErr("head", key, err)
	}
	return objectstore.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Put uploads r, in parts if it is large or of unknown size.
func (s *driver) Put(ctx context.Context, key string, r io.Reader) error {
	return s.upload(ctx, "put", key, r, false)
}

// PutIfAbsent uploads r with If-None-Match: *. The upload is sent even
// when the object exists; the service refuses it at the end.
func (s *driver) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	err := s.upload(ctx, "put", key, r, true)
	switch status := httpStatus(err); {
	case err == nil:
		return true, nil
	case status == http.StatusPreconditionFailed:
		return false, nil
	case status == http.StatusConflict:
		// A concurrent conditional write of the key is in progress
		// (ConditionalRequestConflict). It is "there" only if it lands.
		if _, headErr := s.Head(ctx, key); headErr == nil {
			return false, nil
		}
		return false, err
	default:
		return false, err
	}
}

func (s *driver) upload(ctx context.Context, op, key string, r io.Reader, ifAbsent bool) error {
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key), Body: r}
	// A body the manager can slice (a *bytes.Reader, an *os.File) is sent
	// as is, seekable so the SDK can retry it; anything else is read into
	// part buffers, and must stop reading when ctx is done.
	if _, ok := r.(interface {
		io.ReaderAt
		io.ReadSeeker
	}); !ok {
		in.Body = objectstore.ContextReader(ctx, r)
	}
	if ifAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := s.uploader.Upload(ctx, in)
	if err == nil {
		return nil
	}
	var mu manager.MultiUploadFailure
	if errors.As(err, &mu) && mu.UploadID() != "" {
		// The manager aborts with ctx, which fails once ctx is cancelled;
		// abort again with a context of our own. NoSuchUpload means the
		// first abort worked.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		_, abortErr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: &s.bucket, Key: aws.String(s.base + key), UploadId: aws.String(mu.UploadID()),
		})
		cancel()
		if abortErr != nil && httpStatus(abortErr) != http.StatusNotFound {
			err = fmt.Errorf("%w (and aborting multipart upload: %v)", err, abortErr)
		}
	}
	return s.mapErr(op, key, err)
}

// Delete removes the object. S3 deletes of missing keys succeed, so a HEAD
// comes first to report ErrNotFound.
func (s *driver) Delete(ctx context.Context, key string) error {
	if _, err := s.Head(ctx, key); err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return objectstore.NotFound("delete", key)
		}
		return fmt.Errorf("delete: %w", err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.base + key)})
	if err != nil {
		return s.mapErr("delete", key, err)
	}
	return nil
}

// List pages through ListObjectsV2 (1,000 keys a page) in key order.
func (s *driver) List(ctx context.Context, prefix string) iter.Seq2[objectstore.ObjectInfo, error] {
	return func(yield func(objectstore.ObjectInfo, error) bool) {
		pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
			Bucket: &s.bucket,
			Prefix: aws.String(s.base + prefix),
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(objectstore.ObjectInfo{}, s.mapErr("list", prefix, err))
				return
			}
			for _, obj := range page.Contents {
				key := strings.TrimPrefix(aws.ToString(obj.Key), s.base)
				if !yield(objectstore.ObjectInfo{Key: key, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)}, nil) {
					return
				}
			}
		}
	}
}

// Close does nothing: the client holds no resources that need releasing.
func (s *driver) Close() error { return nil }

// mapErr wraps err with op and key, as ErrNotFound for a missing key. A
// missing bucket is not a missing key.
func (s *driver) mapErr(op, key string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket" {
		return fmt.Errorf("%s %q: bucket %q does not exist: %w", op, key, s.bucket, err)
	}
	if httpStatus(err) == http.StatusNotFound {
		return objectstore.NotFound(op, key)
	}
	return fmt.Errorf("%s %q: %w", op, key, err)
}

// httpStatus returns the HTTP status of a failed SDK call, or 0.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
