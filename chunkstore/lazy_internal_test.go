package chunkstore

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
)

// capturing keeps the readers given to PutIfAbsent.
type capturing struct {
	objectstore.Store
	mu      sync.Mutex
	readers []io.Reader
}

func (c *capturing) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	c.mu.Lock()
	c.readers = append(c.readers, r)
	c.mu.Unlock()
	return c.Store.PutIfAbsent(ctx, key, r)
}

// A chunk already in the store is not compressed again by a store that
// does not know it (a fresh process importing the same tree), and a chunk
// that is stored is stored compressed, readable by another store.
func TestChunkCompressedOnlyWhenStored(t *testing.T) {
	mem := memstore.New()
	data := bytes.Repeat([]byte("castore "), 100_000) // 800 kB: several chunks
	put := func() *capturing {
		s := &capturing{Store: mem}
		c, err := NewChunked(s, ChunkedOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w := c.Create(t.Context())
		w.Write(data)
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := put()
	for _, r := range first.readers {
		if l, ok := r.(*lazyChunk); ok && l.r == nil {
			t.Fatal("a chunk stored for the first time was never compressed")
		}
	}
	second := put()
	n := 0
	for _, r := range second.readers {
		l, ok := r.(*lazyChunk)
		if !ok {
			continue
		}
		n++
		if l.r != nil {
			t.Fatal("a chunk already stored was compressed again")
		}
	}
	if n == 0 {
		t.Fatal("the second store put no chunk at all")
	}
}
