package chunkstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
)

// ReadCompressedChunk hands over a chunk's stored object byte for byte,
// which DecodeChunk turns back into the chunk; a blob of several chunks
// and an unknown digest are not found.
func TestReadCompressedChunk(t *testing.T) {
	mem := memstore.New()
	c := chunked(t, mem)
	data := blobtest.Data(2<<20, 7)
	blob := blobtest.Put(t, c, data)
	chunks, err := c.Chunks(t.Context(), blob)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("chunks of a 2 MiB blob: %d, %v", len(chunks), err)
	}
	single := blobtest.Put(t, c, []byte("one small chunk"))
	var off int64
	for _, cm := range append(chunks, castore.ChunkMeta{Digest: single, Size: 15}) {
		comp, err := c.ReadCompressedChunk(t.Context(), cm.Digest)
		if err != nil {
			t.Fatalf("chunk %s: %v", cm.Digest, err)
		}
		stored := getObject(t, mem, chunkfmt.ChunkKey(cm.Digest))
		if !bytes.Equal(comp, stored) {
			t.Fatalf("chunk %s: %d bytes handed over, %d stored", cm.Digest, len(comp), len(stored))
		}
		for _, size := range []int64{int64(cm.Size), -1} {
			got, err := chunkfmt.DecodeChunk(cm.Digest, comp, size)
			if err != nil {
				t.Fatalf("decode chunk %s (size %d): %v", cm.Digest, size, err)
			}
			if cm.Digest != single && !bytes.Equal(got, data[off:off+int64(cm.Size)]) {
				t.Fatalf("chunk %s decodes to other bytes", cm.Digest)
			}
		}
		off += int64(cm.Size)
	}
	for name, d := range map[string]castore.Digest{"blob of chunks": blob, "unknown": castore.Sum([]byte("nope"))} {
		if _, err := c.ReadCompressedChunk(t.Context(), d); !errors.Is(err, castore.ErrNotFound) {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
}

func getObject(t *testing.T, s objectstore.Store, key string) []byte {
	t.Helper()
	r, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compress(t testing.TB, data []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(data, nil)
}

// recompress replaces every chunk object of chunks in s by the same bytes
// compressed at another level: valid, and unlike what a store's own
// encoder would write.
func recompress(t *testing.T, s objectstore.Store, chunks []castore.Digest) {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range chunks {
		data, err := chunkfmt.DecodeChunk(d, getObject(t, s, chunkfmt.ChunkKey(d)), -1)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(t.Context(), chunkfmt.ChunkKey(d), bytes.NewReader(enc.EncodeAll(data, nil))); err != nil {
			t.Fatal(err)
		}
	}
}

// A near/far cache of two chunked stores keeps in near what far stored,
// byte for byte (no compressing again), for the chunks of a blob, for a
// blob of one chunk, and for a chunk asked for compressed. A damaged far
// chunk is an error (it is not found compressed: Open reads it, and fails)
// and stays out of near.
func TestNearFarFillsCompressed(t *testing.T) {
	nearMem, farMem := memstore.New(), memstore.New()
	near, far := chunked(t, nearMem), chunked(t, farMem)
	nf, err := chunkstore.NewNearFar(near, far, chunkstore.NearFarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(2<<20, 8)
	blob := blobtest.Put(t, far, data)
	chunks, _ := far.Chunks(t.Context(), blob)
	single := blobtest.Put(t, far, []byte("a blob of one chunk"))
	loose := blobtest.Put(t, far, []byte("a chunk asked for compressed"))
	all := []castore.Digest{single, loose}
	for _, cm := range chunks {
		all = append(all, cm.Digest)
	}
	recompress(t, farMem, all)

	for _, want := range []struct {
		d    castore.Digest
		data []byte
	}{{blob, data}, {single, []byte("a blob of one chunk")}} {
		if !blobtest.ReadAndCheck(t, nf, want.d, want.data) {
			t.FailNow()
		}
	}
	comp, err := nf.ReadCompressedChunk(t.Context(), loose)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(comp, getObject(t, farMem, chunkfmt.ChunkKey(loose))) {
		t.Fatal("ReadCompressedChunk handed over other bytes than far stores")
	}
	for _, d := range all {
		if !bytes.Equal(getObject(t, nearMem, chunkfmt.ChunkKey(d)), getObject(t, farMem, chunkfmt.ChunkKey(d))) {
			t.Fatalf("near's chunk %s differs from far's", d)
		}
	}

	damaged := blobtest.Put(t, far, []byte("soon damaged"))
	farMem.Put(t.Context(), chunkfmt.ChunkKey(damaged), bytes.NewReader(compress(t, []byte("other bytes!"))))
	if _, err := nf.Open(t.Context(), damaged); !errors.Is(err, castore.ErrCorrupt) {
		t.Fatalf("reading a damaged far chunk: %v, want a corrupt-chunk error", err)
	}
	if _, err := nf.ReadCompressedChunk(t.Context(), damaged); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("damaged far chunk, compressed: %v, want not found (no copy that checks out)", err)
	}
	if ok, _ := near.Has(t.Context(), damaged); ok {
		t.Fatal("near took a damaged chunk")
	}

	plain, err := chunkstore.NewNearFar(chunkstore.NewMemory(), far, chunkstore.NearFarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.ReadCompressedChunk(t.Context(), loose); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("near/far with a memory near: %v, want unsupported", err)
	}
}

// fillingStore records, of each reader its Get returns, the first byte
// of the buffers Read is asked to fill, and forwards whether Head is
// answered from memory.
type fillingStore struct {
	objectstore.Store
	filled []*byte
}

func (s *fillingStore) HeadsIndexed() bool { return objectstore.HeadsIndexed(s.Store) }

func (s *fillingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return fillingReader{r, s}, nil
}

type fillingReader struct {
	io.ReadCloser
	s *fillingStore
}

func (r fillingReader) Read(p []byte) (int, error) {
	if len(p) > 0 {
		r.s.filled = append(r.s.filled, &p[0])
	}
	return r.ReadCloser.Read(p)
}

// On a pack store (Head from its index) ReadCompressedChunk has the
// store's reader fill the slice it returns: no buffer in between, no
// copy of it. What it hands over is the stored object, as on any store.
func TestReadCompressedChunkOnPackReadsInPlace(t *testing.T) {
	p := openPack(t)
	w := chunked(t, p)
	blob := blobtest.Put(t, w, blobtest.Data(2<<20, 8))
	chunks, err := w.Chunks(t.Context(), blob)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("chunks of a 2 MiB blob: %d, %v", len(chunks), err)
	}
	fs := &fillingStore{Store: p}
	c, err := chunkstore.NewChunked(fs, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range chunks {
		fs.filled = nil
		comp, err := c.ReadCompressedChunk(t.Context(), cm.Digest)
		if err != nil {
			t.Fatalf("chunk %s: %v", cm.Digest, err)
		}
		if !bytes.Equal(comp, getObject(t, p, chunkfmt.ChunkKey(cm.Digest))) {
			t.Fatalf("chunk %s: other bytes handed over than stored", cm.Digest)
		}
		if len(fs.filled) == 0 || fs.filled[0] != &comp[0] {
			t.Fatalf("chunk %s: the store's reader was asked to fill %d buffers, not the slice handed over", cm.Digest, len(fs.filled))
		}
	}
	if _, err := c.ReadCompressedChunk(t.Context(), blob); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("a blob of several chunks: %v, want not found", err)
	}
	if _, err := c.ReadCompressedChunk(t.Context(), castore.Sum([]byte("nope"))); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("an unknown digest: %v, want not found", err)
	}
}
