package s3store_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/castore-go/castore/objectstore/s3store"
)

// TestS3ConditionalConflict: a 409 ConditionalRequestConflict (another
// conditional write of the key in flight, which MinIO does not produce)
// counts as "already there" only if the object then exists.
func TestS3ConditionalConflict(t *testing.T) {
	var exists atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.Method {
		case http.MethodPut:
			if r.Header.Get("If-None-Match") != "*" {
				t.Errorf("PUT without If-None-Match: *")
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code><Message>conflict</Message></Error>`)
		case http.MethodHead:
			if exists.Load() {
				w.Header().Set("Content-Length", "5")
				return
			}
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	defer srv.Close()
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
	s, err := s3store.New(client, "bucket", "p")
	if err != nil {
		t.Fatal(err)
	}
	created, err := s.PutIfAbsent(t.Context(), "k", strings.NewReader("hello"))
	if err == nil {
		t.Errorf("PutIfAbsent on a conflict with nothing there = %v, nil; want an error", created)
	}
	exists.Store(true)
	created, err = s.PutIfAbsent(t.Context(), "k", strings.NewReader("hello"))
	if err != nil || created {
		t.Errorf("PutIfAbsent on a conflict with the object there = %v, %v; want false, nil", created, err)
	}
}
