package s3store

import (
	"context"
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
