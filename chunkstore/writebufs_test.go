package chunkstore_test

import (
	"context"
	"io"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore/memstore"
)

// discarding takes every put, reading its body and keeping nothing.
type discarding struct{ *memstore.Store }

func (discarding) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	_, err := io.Copy(io.Discard, r)
	return err == nil, err
}

// allocatedPerBlob is the bytes allocated per blob writing blobs to c.
func allocatedPerBlob(t *testing.T, c *chunkstore.Chunked, blobs [][]byte) float64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, b := range blobs {
		blobtest.Put(t, c, b)
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(blobs))
}

// A writer reuses its buffers from one blob to the next: its hasher, a
// small blob's bytes, the chunks cut from a large one. Writing a new
// blob of 10 KiB (random, so incompressible) allocated 38 KiB (a 9 KiB
// hasher, its bytes grown as written, then compressed and put), now 18;
// one of 2 MiB 7.8 MiB, now 5.8 (the cutter's buffer, the compressed
// chunks and their records remain).
func TestWriteReusesBuffers(t *testing.T) {
	testenv.AllocTest(t)
	// No collection meanwhile: it would empty the pools.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	c, err := chunkstore.NewChunked(discarding{memstore.New()}, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var small, large [][]byte
	for i := range 200 {
		small = append(small, blobtest.Data(10<<10, uint64(i)))
	}
	for i := range 6 {
		large = append(large, blobtest.Data(2<<20, uint64(1000+i)))
	}
	allocatedPerBlob(t, c, small[:10]) // warm the pools
	allocatedPerBlob(t, c, large[:2])
	if got := allocatedPerBlob(t, c, small[10:]); got > 24<<10 {
		t.Errorf("writing a 10 KiB blob allocates %.0f bytes", got)
	}
	if got := allocatedPerBlob(t, c, large[2:]); got > 3.5*(2<<20) {
		t.Errorf("writing a 2 MiB blob allocates %.0f bytes", got)
	}
}
