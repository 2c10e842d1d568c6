package chunkstore_test

import (
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/s3store"
)

func TestMemory(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) castore.BlobService { return chunkstore.NewMemory() })
}

func chunked(t *testing.T, s objectstore.Store) *chunkstore.Chunked {
	c, err := chunkstore.NewChunked(s, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestChunkedOnMemory(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) castore.BlobService { return chunked(t, memstore.New()) })
}

func TestChunkedOnFile(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) castore.BlobService {
		f, err := filestore.New(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return chunked(t, f)
	})
}

func TestChunkedOnMinIO(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	blobtest.Run(t, func(t *testing.T) castore.BlobService {
		s, err := s3store.Open(t.Context(), m.URL(testenv.RandomName("blobs")))
		if err != nil {
			t.Fatal(err)
		}
		return chunked(t, s)
	})
}
