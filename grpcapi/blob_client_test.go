package grpcapi_test

import (
	"context"
	"sync"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/grpcapi"
)

// recording is a BlobService that records the size of every Write its
// writers get: the server writes each Put message as it arrives.
type recording struct {
	castore.BlobService
	mu     sync.Mutex
	writes []int
}

func (r *recording) Create(ctx context.Context) castore.BlobWriter {
	return &recordingWriter{BlobWriter: r.BlobService.Create(ctx), r: r}
}

type recordingWriter struct {
	castore.BlobWriter
	r *recording
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	w.r.writes = append(w.r.writes, len(p))
	w.r.mu.Unlock()
	return w.BlobWriter.Write(p)
}

// The client gathers small writes into messages of ReadMessageSize bytes
// (the last one shorter) and sends large writes in pieces of that size;
// whatever the pattern, the blob arrives whole under its digest.
func TestBlobClientMessageSizes(t *testing.T) {
	const m = grpcapi.ReadMessageSize
	for _, tc := range []struct {
		name  string
		size  int
		piece int
	}{
		{"1 byte", 1, 1},
		{"bytes one at a time", 3000, 1},
		{"32 KiB writes", 3*m + 123, 32 << 10},
		{"exactly one message", m, 32 << 10},
		{"one message and a byte", m + 1, 32 << 10},
		{"one large write", 5*m + 7, 5*m + 7},
		{"odd writes", 2*m + 5, m - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recording{BlobService: chunkstore.NewMemory()}
			l := listenTCP(t)
			serve(t, l, rec, nil)
			c := grpcapi.NewBlobClient(dial(t, "grpc+http://"+l.Addr().String()))
			data := randBytes(tc.size, byte(tc.size))
			w := c.Create(ctxT(t))
			for rest := data; len(rest) > 0; {
				k := min(tc.piece, len(rest))
				if n, err := w.Write(rest[:k]); n != k || err != nil {
					t.Fatalf("write: %d, %v", n, err)
				}
				rest = rest[k:]
			}
			d, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			if d != castore.Sum(data) {
				t.Fatalf("digest %s, want %s", d, castore.Sum(data))
			}
			want := make([]int, 0, tc.size/m+1)
			for rest := tc.size; rest > 0; rest -= min(rest, m) {
				want = append(want, min(rest, m))
			}
			rec.mu.Lock()
			got := rec.writes
			rec.mu.Unlock()
			if len(got) != len(want) {
				t.Fatalf("server got messages of %v bytes, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("server got messages of %v bytes, want %v", got, want)
				}
			}
			r, err := rec.Open(ctxT(t), d)
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
		})
	}
}

// A backend that fails a Put fails the client's Close (or a Write), and
// the client then refuses further writes.
func TestBlobClientPutFailure(t *testing.T) {
	l := listenTCP(t)
	serve(t, l, failing{}, nil)
	c := grpcapi.NewBlobClient(dial(t, "grpc+http://"+l.Addr().String()))
	w := c.Create(ctxT(t))
	var err error
	for i := 0; i < 64 && err == nil; i++ {
		_, err = w.Write(randBytes(64<<10, byte(i)))
	}
	if err == nil {
		_, err = w.Close()
	}
	if err == nil {
		t.Fatal("a Put the backend failed succeeded")
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Fatal("Write after a failed Put succeeded")
	}
}
