package s3store_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
)

// The pinned MinIO ignores If-Match on DeleteObject: a delete naming a
// stale ETag removes the object. This is why s3store offers no
// conditional delete; if this test fails, MinIO has learned it, and
// DeleteIfVersion can use it (check AWS too).
func TestMinIOIgnoresDeleteIfMatch(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	s := openMinIO(t, m, "delete-if-match")
	v1, err := objectstore.PutIfVersion(t.Context(), s, "k", strings.NewReader("one"), objectstore.NoVersion)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objectstore.PutIfVersion(t.Context(), s, "k", strings.NewReader("two"), v1); err != nil {
		t.Fatal(err)
	}
	_, err = m.Client().DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String("delete-if-match/k"), IfMatch: aws.String(string(v1))})
	if err != nil {
		t.Fatalf("DeleteObject with a stale If-Match: %v (MinIO honours it now?)", err)
	}
	if _, err := s.Head(t.Context(), "k"); err == nil {
		t.Fatalf("the object survived a DeleteObject with a stale If-Match: MinIO honours it now")
	}
}
