package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/s3store"
	"github.com/castore-go/castore/objectstore/storetest"
)

// openMinIO opens the store at prefix on m through Open, with the
// credentials in the environment as a deployment would have them.
func openMinIO(t testing.TB, m *testenv.MinIOServer, prefix string) objectstore.Store {
	t.Helper()
	s, err := s3store.Open(t.Context(), m.URL(prefix))
	if err != nil {
		t.Fatalf("Open(%s): %v", m.URL(prefix), err)
	}
	return s
}

// TestS3 runs the conformance suite against MinIO, each subtest under its
// own prefix, and then checks that no multipart upload was left behind by
// the failed and cancelled puts.
func TestS3(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	n := 0
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		n++
		return openMinIO(t, m, fmt.Sprintf("conformance/%d", n))
	})
	checkNoUploads(t, m)

	// The store's prefix confines it: nothing of another prefix is seen.
	a, b := openMinIO(t, m, "iso/a"), openMinIO(t, m, "iso/ab")
	if err := a.Put(t.Context(), "k", strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	for info, err := range b.List(t.Context(), "") {
		t.Errorf("store iso/ab lists %+v, %v", info, err)
	}
	if _, err := b.Head(t.Context(), "k"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("store iso/ab: Head(k) = %v, want ErrNotFound", err)
	}
}

func checkNoUploads(t *testing.T, m *testenv.MinIOServer) {
	t.Helper()
	out, err := m.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(m.Bucket)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload left behind: key %q, id %s", aws.ToString(u.Key), aws.ToString(u.UploadId))
	}
}

// TestS3MissingBucket: a bucket that does not exist is named in the error,
// and is not mistaken for a missing key on a put.
func TestS3MissingBucket(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	u := strings.Replace(m.URL("p"), m.Bucket, "no-such-bucket-here", 1)
	s, err := s3store.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Put(t.Context(), "k", strings.NewReader("x"))
	if err == nil || errors.Is(err, objectstore.ErrNotFound) || !strings.Contains(err.Error(), "no-such-bucket-here") {
		t.Errorf("Put into a missing bucket = %v, want an error naming the bucket", err)
	}
}

// TestS3Fault kills MinIO while puts and gets are in flight. Every call
// must return (with an error) within its deadline rather than hang; after
// a restart the store works, and every object it holds is whole.
func TestS3Fault(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	s := openMinIO(t, m, "fault")
	defer s.Close()

	// The content of a key is a function of the key, so any object can be
	// checked after the fact.
	content := func(key string) []byte {
		size := 1 << 20
		if strings.HasPrefix(key, "big/") {
			size = 12 << 20 // multipart
		}
		sum := sha256.Sum256([]byte(key))
		return bytes.Repeat(sum[:], size/len(sum))
	}
	const callTimeout = 5 * time.Second
	// A call that has not returned this long after its deadline hangs.
	const hang = callTimeout + 30*time.Second

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var okBefore, failed int
	call := func(name string, fn func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- fn(ctx) }()
		select {
		case err := <-done:
			mu.Lock()
			if err != nil {
				failed++
			} else {
				okBefore++
			}
			mu.Unlock()
		case <-time.After(hang):
			t.Errorf("%s hung for %v with a %v deadline", name, hang, callTimeout)
			<-done
		}
	}
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("small/%d/%d", w, i)
				if w%3 == 0 {
					key = fmt.Sprintf("big/%d/%d", w, i)
				}
				call("Put "+key, func(ctx context.Context) error {
					// Unknown size, so big ones go up in parts.
					return s.Put(ctx, key, struct{ io.Reader }{bytes.NewReader(content(key))})
				})
				call("Get "+key, func(ctx context.Context) error {
					rc, err := s.Get(ctx, key)
					if err != nil {
						return err
					}
					defer rc.Close()
					_, err = io.Copy(io.Discard, rc)
					return err
				})
			}
		})
	}
	time.Sleep(1500 * time.Millisecond) // let work get going
	m.Stop()
	// Calls made while the server is down fail, within their deadline.
	for range 3 {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		err := s.Put(ctx, "down/k", strings.NewReader("x"))
		cancel()
		if err == nil {
			t.Error("Put succeeded while MinIO was down")
		}
		if d := time.Since(start); d > hang {
			t.Errorf("Put took %v with a %v deadline", d, callTimeout)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("before the kill %d calls succeeded; %d failed around it", okBefore, failed)
	if okBefore == 0 {
		t.Error("no call succeeded before MinIO was stopped: the test did not exercise a live server")
	}

	m.Start()
	ctx := t.Context()
	if err := s.Put(ctx, "after/restart", strings.NewReader("works")); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	storetest.CheckObject(t, s, "after/restart", []byte("works"))
	n := 0
	for info, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatalf("List after restart: %v", err)
		}
		if strings.HasPrefix(info.Key, "after/") {
			continue
		}
		if strings.HasPrefix(info.Key, "down/") {
			t.Errorf("a put made while MinIO was down left %q", info.Key)
			continue
		}
		storetest.CheckObject(t, s, info.Key, content(info.Key))
		n++
	}
	t.Logf("%d objects after the restart, all whole", n)
	// Uploads in flight when the server died could not be aborted; they
	// hold parts, not objects (a bucket lifecycle rule reaps them).
	out, err := m.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(m.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d multipart uploads were cut off by the kill", len(out.Uploads))
}
