package grpcapi_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/castorepb/snixpb"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore/memstore"
)

// countingChunks counts how PutBlob's verification reads chunks.
type countingChunks struct {
	*chunkstore.Chunked
	compressed, verified atomic.Int64
}

func (c *countingChunks) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	c.compressed.Add(1)
	return c.Chunked.ReadCompressedChunk(ctx, d)
}

func (c *countingChunks) ReadChunk(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
	c.verified.Add(1)
	return c.Chunked.ReadChunk(ctx, cm)
}

// storedChunks cuts data, stores its chunks compressed in a chunked store
// on mem, and returns the store and the chunks.
func storedChunks(t *testing.T, data []byte) (*countingChunks, *memstore.Store, []castore.ChunkMeta) {
	t.Helper()
	ctx := context.Background()
	mem := memstore.New()
	cs, err := chunkstore.NewChunked(mem, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	enc, err := chunkfmt.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	cut, err := chunkfmt.NewCutter(bytes.NewReader(data), chunkfmt.DefaultAvgChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	var chunks []castore.ChunkMeta
	for {
		c, err := cut.Next()
		if err != nil {
			break
		}
		d := castore.Sum(c)
		if err := cs.PutCompressedChunk(ctx, d, enc.Encode(c)); err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, castore.ChunkMeta{Digest: d, Size: uint64(len(c))})
	}
	if len(chunks) < 4 {
		t.Fatalf("%d chunks; want several", len(chunks))
	}
	return &countingChunks{Chunked: cs}, mem, chunks
}

// TestPutBlobVerifiesWhole: PutBlob checks a blob's chunks by the blob's
// digest, reading each chunk once, compressed, and none verified on its
// own; a stored chunk that is damaged (right size, wrong bytes) sends it
// to reading them verified, which refuses the blob and stores nothing.
func TestPutBlobVerifiesWhole(t *testing.T) {
	ctx := context.Background()
	data := make([]byte, 6<<20)
	r := rand.NewChaCha8([32]byte{9})
	r.Read(data)
	d := castore.Sum(data)

	cs, _, chunks := storedChunks(t, data)
	srv := grpcapi.NewBlobStoreServer(cs)
	if _, err := srv.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: d[:], BlobMeta: snixpb.FromChunks(chunks)}); err != nil {
		t.Fatal(err)
	}
	if got, want := cs.compressed.Load(), int64(len(chunks)); got != want || cs.verified.Load() != 0 {
		t.Errorf("PutBlob of %d chunks read %d compressed and %d verified; want %d and 0", len(chunks), got, cs.verified.Load(), want)
	}
	if got := readBack(t, cs, d); !bytes.Equal(got, data) {
		t.Error("the blob does not read back")
	}

	// The same chunks with the second one damaged in the store.
	cs, mem, chunks := storedChunks(t, data)
	other := bytes.Clone(data[chunks[0].Size : chunks[0].Size+chunks[1].Size])
	other[0] ^= 1
	enc, _ := chunkfmt.NewEncoder()
	if err := mem.Put(ctx, chunkfmt.ChunkKey(chunks[1].Digest), bytes.NewReader(enc.Encode(other))); err != nil {
		t.Fatal(err)
	}
	srv = grpcapi.NewBlobStoreServer(cs)
	_, err := srv.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: d[:], BlobMeta: snixpb.FromChunks(chunks)})
	wantCode(t, "PutBlob over a damaged chunk", err, codes.InvalidArgument)
	if cs.verified.Load() == 0 {
		t.Error("after the whole blob failed to match, no chunk was read verified")
	}
	if ok, err := cs.Has(ctx, d); ok || err != nil {
		t.Errorf("after a refused PutBlob: Has = %v, %v", ok, err)
	}
}

// PutBlob's verification reuses the buffers it decompresses chunks into:
// verifying a blob again allocates less than a quarter of its size (94 KB
// for 16 MiB; before, each chunk was decompressed into a new slice: the
// blob's size and more each time). The data compresses well, so what the
// compressed chunks take is small beside it.
func TestPutBlobVerifyReusesBuffers(t *testing.T) {
	testenv.AllocTest(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("castore verifies a blob by its digest. "), (16<<20)/39)
	r := rand.NewChaCha8([32]byte{3})
	for i := 0; i < len(data); i += 4096 {
		r.Read(data[i : i+8]) // not one chunk repeated: FastCDC cuts it
	}
	d := castore.Sum(data)
	cs, _, chunks := storedChunks(t, data)
	srv := grpcapi.NewBlobStoreServer(cs)
	req := &snixpb.PutBlobRequest{Digest: d[:], BlobMeta: snixpb.FromChunks(chunks)}
	if _, err := srv.PutBlob(ctx, req); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := srv.PutBlob(ctx, req); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got >= uint64(len(data))/4 {
		t.Errorf("verifying %d bytes in %d chunks again allocated %d bytes, want less than a quarter of that", len(data), len(chunks), got)
	}
}
