package blobtest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
)

// piece is a chunk of a stored blob, or a stored blob of one chunk.
type piece struct {
	cm   castore.ChunkMeta
	data []byte
}

// testCapabilities checks every optional capability s claims (see
// castore.CompressedChunkReader and those beside it): a service that has
// the method refuses it with castore.ErrUnsupported (a wrapper of a store
// without it), or does what the interface says.
func testCapabilities(t *testing.T, s castore.BlobService) {
	data := Data(2<<20, 41)
	blob := Put(t, s, data)
	single := []byte("a blob of one chunk, read by the capabilities")
	chunks, err := s.Chunks(ctxT(t), blob)
	if err != nil {
		t.Fatal(err)
	}
	var pieces []piece
	off := uint64(0)
	for _, cm := range chunks {
		pieces = append(pieces, piece{cm, data[off : off+cm.Size]})
		off += cm.Size
	}
	if len(chunks) == 0 {
		pieces = append(pieces, piece{castore.ChunkMeta{Digest: blob, Size: uint64(len(data))}, data})
	}
	pieces = append(pieces, piece{castore.ChunkMeta{Digest: Put(t, s, single), Size: uint64(len(single))}, single})
	unknown := castore.ChunkMeta{Digest: castore.Sum([]byte("a chunk never stored")), Size: 20}

	// A service may claim a capability and refuse it (a wrapper whose
	// inner service lacks it): that is an answer, logged, not a failure.
	refused := func(t *testing.T, err error) bool {
		t.Helper()
		if errors.Is(err, castore.ErrUnsupported) {
			t.Logf("claimed but refused: %v", err)
			return true
		}
		return false
	}
	t.Run("CompressedChunkReader", func(t *testing.T) {
		if _, ok := s.(castore.CompressedChunkReader); !ok {
			t.Log("not claimed")
			return
		}
		for _, p := range pieces {
			comp, err := castore.ReadCompressedChunk(ctxT(t), s, p.cm.Digest)
			if refused(t, err) {
				return
			}
			if err != nil {
				t.Fatalf("chunk %s: %v", p.cm.Digest, err)
			}
			got, err := chunkfmt.DecodeChunk(p.cm.Digest, comp, int64(p.cm.Size))
			if err != nil || !bytes.Equal(got, p.data) {
				t.Fatalf("chunk %s: what was handed over decodes to %d bytes that differ, %v", p.cm.Digest, len(got), err)
			}
		}
		notFound := []castore.Digest{unknown.Digest}
		if len(chunks) > 0 {
			notFound = append(notFound, blob) // a blob of several chunks is no chunk
		}
		for _, d := range notFound {
			if _, err := castore.ReadCompressedChunk(ctxT(t), s, d); !errors.Is(err, castore.ErrNotFound) {
				t.Errorf("ReadCompressedChunk(%s) = %v, want not found", d, err)
			}
		}
	})
	t.Run("ChunkReaderService", func(t *testing.T) {
		if _, ok := s.(castore.ChunkReaderService); !ok {
			t.Log("not claimed")
			return
		}
		for _, p := range pieces {
			got, err := castore.ReadChunk(ctxT(t), s, p.cm)
			if refused(t, err) {
				return
			}
			if err != nil || !bytes.Equal(got, p.data) {
				t.Fatalf("ReadChunk(%s) = %d bytes that differ, %v", p.cm.Digest, len(got), err)
			}
		}
		if _, err := castore.ReadChunk(ctxT(t), s, unknown); !errors.Is(err, castore.ErrNotFound) {
			t.Errorf("ReadChunk(unknown) = %v, want not found", err)
		}
	})
	t.Run("CompressedChunkWriter", func(t *testing.T) {
		if _, ok := s.(castore.CompressedChunkWriter); !ok {
			t.Log("not claimed")
			return
		}
		enc, err := chunkfmt.NewEncoder()
		if err != nil {
			t.Fatal(err)
		}
		data := Data(100<<10, 42)
		d := castore.Sum(data)
		err = castore.PutCompressedChunk(ctxT(t), s, d, enc.Encode(data))
		if refused(t, err) {
			return
		}
		if err != nil {
			t.Fatalf("PutCompressedChunk: %v", err)
		}
		if ok, err := s.Has(ctxT(t), d); err != nil || !ok {
			t.Fatalf("Has after PutCompressedChunk = %v, %v", ok, err)
		}
		ReadAndCheck(t, s, d, data)
	})
	t.Run("BatchChunkReader", func(t *testing.T) {
		if _, ok := s.(castore.BatchChunkReader); !ok {
			t.Log("not claimed")
			return
		}
		var ds []castore.Digest
		for _, p := range pieces {
			ds = append(ds, p.cm.Digest)
		}
		ds = append(ds, unknown.Digest)
		var got []castore.Digest
		err := castore.ReadCompressedChunks(ctxT(t), s, ds, func(d castore.Digest, comp []byte) error {
			got = append(got, d)
			if d == unknown.Digest {
				if comp != nil {
					t.Errorf("a chunk never stored came with %d bytes", len(comp))
				}
				return nil
			}
			p := pieces[len(got)-1]
			if comp == nil {
				return nil // no compressed copy: readers use Open
			}
			data, err := chunkfmt.DecodeChunk(d, comp, int64(p.cm.Size))
			if err != nil || !bytes.Equal(data, p.data) {
				t.Errorf("chunk %s: what was handed over decodes to %d bytes that differ, %v", d, len(data), err)
			}
			return nil
		})
		if refused(t, err) {
			return
		}
		if err != nil || !slices.Equal(got, ds) {
			t.Fatalf("ReadCompressedChunks answered %d of %d in order: %v", len(got), len(ds), err)
		}
	})
	t.Run("BlobBatchReader", func(t *testing.T) {
		if _, ok := s.(castore.BlobBatchReader); !ok {
			t.Log("not claimed")
			return
		}
		metas := []castore.ChunkMeta{{Digest: blob, Size: uint64(len(data))}, {Digest: castore.EmptyDigest}}
		want := map[castore.Digest][]byte{blob: data, castore.EmptyDigest: nil}
		for _, p := range pieces {
			metas = append(metas, p.cm)
			want[p.cm.Digest] = p.data
		}
		n := 0
		err := castore.ReadBlobs(ctxT(t), s, metas, func(b castore.ChunkMeta, got []byte) error {
			if b != metas[n] || !bytes.Equal(got, want[b.Digest]) {
				t.Errorf("blob #%d (%s) read as %d bytes that differ", n, b.Digest, len(got))
			}
			n++
			return nil
		})
		if refused(t, err) {
			return
		}
		if err != nil || n != len(metas) {
			t.Fatalf("ReadBlobs answered %d of %d: %v", n, len(metas), err)
		}
		if err := castore.ReadBlobs(ctxT(t), s, []castore.ChunkMeta{unknown}, func(castore.ChunkMeta, []byte) error { return nil }); !errors.Is(err, castore.ErrNotFound) {
			t.Errorf("ReadBlobs of a blob never stored = %v, want not found", err)
		}
	})
	t.Run("ChunkUploader", func(t *testing.T) {
		if _, ok := s.(castore.ChunkUploader); !ok {
			t.Log("not claimed")
			return
		}
		for _, n := range []int{0, 1000, 128<<10 + 1, 3<<20 + 5} {
			data := Data(n, uint64(n)+46)
			w, err := castore.CreateChunked(ctxT(t), s)
			if refused(t, err) {
				return
			}
			if err != nil {
				t.Fatalf("CreateChunked: %v", err)
			}
			for rest := data; len(rest) > 0; {
				k := min(len(rest), 100<<10)
				if _, err := w.Write(rest[:k]); err != nil {
					t.Fatalf("write %d bytes cut here: %v", n, err)
				}
				rest = rest[k:]
			}
			d, err := w.Close()
			if err != nil || d != castore.Sum(data) {
				t.Fatalf("%d bytes cut here stored as %s, %v; want %s", n, d, err, castore.Sum(data))
			}
			ReadAndCheck(t, s, d, data)
		}
		// Abandoned halfway: no blob.
		data := Data(3<<20, 47)
		c, cancel := context.WithCancel(ctxT(t))
		w, err := castore.CreateChunked(c, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data[:2<<20]); err != nil {
			t.Fatal(err)
		}
		cancel()
		w.Write(data[2<<20:])
		if _, err := w.Close(); err == nil {
			t.Fatal("Close after cancel succeeded")
		}
		if ok, err := s.Has(ctxT(t), castore.Sum(data)); err != nil || ok {
			t.Errorf("an abandoned blob cut here is present: %v, %v", ok, err)
		}
	})
	t.Run("MissingFinder", func(t *testing.T) {
		if _, ok := s.(castore.MissingFinder); !ok {
			t.Log("not claimed")
			return
		}
		other := castore.Sum([]byte("another blob never stored"))
		ask := []castore.Digest{unknown.Digest, blob, castore.EmptyDigest, other}
		for _, p := range pieces {
			ask = append(ask, p.cm.Digest)
		}
		got, err := castore.Missing(ctxT(t), s, ask)
		if refused(t, err) {
			return
		}
		if err != nil || !slices.Equal(got, []castore.Digest{unknown.Digest, other}) {
			t.Errorf("Missing = %v, %v; want the two never stored", got, err)
		}
	})
	t.Run("BlobStatter", func(t *testing.T) {
		if _, ok := s.(castore.BlobStatter); !ok {
			t.Log("not claimed")
			return
		}
		metas := []castore.ChunkMeta{{Digest: blob, Size: uint64(len(data))}, {Digest: castore.EmptyDigest}}
		for _, p := range pieces {
			metas = append(metas, p.cm)
		}
		ds := []castore.Digest{unknown.Digest}
		for _, m := range metas {
			ds = append(ds, m.Digest)
		}
		n := 0
		err := castore.StatBlobs(ctxT(t), s, ds, func(d castore.Digest, size uint64, ok bool) error {
			switch {
			case n >= len(ds) || d != ds[n]:
				t.Errorf("answer #%d is about %s, out of turn", n, d)
			case n == 0 && ok:
				t.Errorf("a blob never stored is there with %d bytes", size)
			case n > 0 && (!ok || size != metas[n-1].Size):
				t.Errorf("blob %s: StatBlobs says %d bytes (there: %v), want %d", d, size, ok, metas[n-1].Size)
			}
			n++
			return nil
		})
		if refused(t, err) {
			return
		}
		if err != nil || n != len(ds) {
			t.Fatalf("StatBlobs answered %d of %d: %v", n, len(ds), err)
		}
	})
	t.Run("IndexPutter", func(t *testing.T) {
		if _, ok := s.(castore.IndexPutter); !ok {
			t.Log("not claimed")
			return
		}
		// Pieces small enough to be one chunk each in any chunked store.
		a, b, missing := Data(10<<10, 43), Data(12<<10, 44), Data(11<<10, 45)
		metas := []castore.ChunkMeta{
			{Digest: Put(t, s, a), Size: uint64(len(a))},
			{Digest: Put(t, s, b), Size: uint64(len(b))},
		}
		whole := slices.Concat(a, b)
		d := castore.Sum(whole)
		err := castore.PutIndex(ctxT(t), s, d, metas)
		if refused(t, err) {
			return
		}
		if err != nil {
			t.Fatalf("PutIndex: %v", err)
		}
		ReadAndCheck(t, s, d, whole)
		if got, err := s.Chunks(ctxT(t), d); err != nil || !slices.Equal(got, metas) {
			t.Errorf("Chunks after PutIndex = %v, %v; want %v", got, err, metas)
		}
		// An index naming a chunk that is not stored is refused, and
		// records nothing.
		bad := slices.Concat(a, missing)
		bd := castore.Sum(bad)
		if err := castore.PutIndex(ctxT(t), s, bd, []castore.ChunkMeta{metas[0], {Digest: castore.Sum(missing), Size: uint64(len(missing))}}); err == nil {
			t.Error("PutIndex with a chunk not stored succeeded")
		}
		if ok, err := s.Has(ctxT(t), bd); err != nil || ok {
			t.Errorf("Has after a refused PutIndex = %v, %v", ok, err)
		}
	})
	t.Run("Freshener", func(t *testing.T) {
		if _, ok := s.(castore.Freshener); !ok {
			t.Log("not claimed")
			return
		}
		// Stored blobs (chunked, of one chunk, empty) freshen; one not
		// stored is ErrNotFound.
		err := castore.Freshen(ctxT(t), s, []castore.Digest{blob, pieces[len(pieces)-1].cm.Digest, castore.EmptyDigest})
		if refused(t, err) {
			return
		}
		if err != nil {
			t.Fatalf("Freshen of stored blobs: %v", err)
		}
		if err := castore.Freshen(ctxT(t), s, []castore.Digest{unknown.Digest}); err != nil && !errors.Is(err, castore.ErrNotFound) && !refused(t, err) {
			t.Errorf("Freshen of a blob not stored: %v, want ErrNotFound", err)
		}
		ReadAndCheck(t, s, blob, data)
	})
}
