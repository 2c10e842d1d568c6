package s3store

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/castore-go/castore/objectstore"
)

var (
	_ objectstore.Toucher = (*driver)(nil)
	_ objectstore.Copier  = (*driver)(nil)
)

// touchedKey is the user metadata a Touch replaces: S3 copies an object
// onto itself only if something changes, and the copy moves its
// Last-Modified.
const touchedKey = "castore-touched"

// Touch copies the object onto itself, server-side, with its metadata
// replaced: Last-Modified becomes now. A missing object is ErrNotFound.
func (s *driver) Touch(ctx context.Context, key string) error {
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:            &s.bucket,
		Key:               aws.String(s.base + key),
		CopySource:        aws.String(s.copySource(key)),
		MetadataDirective: types.MetadataDirectiveReplace,
		Metadata:          map[string]string{touchedKey: time.Now().UTC().Format(time.RFC3339Nano)},
	})
	if err != nil {
		return s.mapErr("touch", key, err)
	}
	return nil
}

// Copy copies src to dst server-side (CopyObject; up to 5 GiB).
func (s *driver) Copy(ctx context.Context, src, dst string) error {
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     &s.bucket,
		Key:        aws.String(s.base + dst),
		CopySource: aws.String(s.copySource(src)),
	})
	if err != nil {
		return s.mapErr("copy", src, err)
	}
	return nil
}

// copySource is the URL-encoded "bucket/key" CopyObject takes.
func (s *driver) copySource(key string) string {
	segs := strings.Split(s.bucket+"/"+s.base+key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

var _ objectstore.BatchDeleter = (*driver)(nil)

// deleteBatchMax is the most keys one DeleteObjects request takes.
const deleteBatchMax = 1000

// DeleteBatch deletes keys with DeleteObjects, 1,000 a request, quietly
// (S3 deletes a missing key without complaint).
func (s *driver) DeleteBatch(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), deleteBatchMax)
		objs := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			objs[i] = types.ObjectIdentifier{Key: aws.String(s.base + k)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket,
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return s.mapErr("delete", keys[0], err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete %q: %s: %s (and %d more failed)", strings.TrimPrefix(aws.ToString(e.Key), s.base), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
		}
		keys = keys[n:]
	}
	return nil
}
