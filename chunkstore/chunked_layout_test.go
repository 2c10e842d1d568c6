package chunkstore_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
)

func chunkedIn(t *testing.T, s objectstore.Store, l chunkfmt.ChunkLayout) *chunkstore.Chunked {
	c, err := chunkstore.NewChunked(s, chunkstore.ChunkedOptions{ChunkLayout: l})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChunkedSnixLayout(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) castore.BlobService {
		c := chunkedIn(t, memstore.New(), chunkfmt.ChunkLayoutSnix)
		t.Cleanup(func() { c.Close() })
		return c
	})
}

// A store writes chunks in its layout only, and reads a bucket written in
// either: blobs, chunks, compressed chunks and indexes over them.
func TestChunkLayoutsReadEachOther(t *testing.T) {
	prefix := map[chunkfmt.ChunkLayout]string{chunkfmt.ChunkLayoutTvix: "chunks/b3/", chunkfmt.ChunkLayoutSnix: "chunk/b3/"}
	for _, l := range []chunkfmt.ChunkLayout{chunkfmt.ChunkLayoutTvix, chunkfmt.ChunkLayoutSnix} {
		t.Run(string(l), func(t *testing.T) {
			mem := memstore.New()
			w := chunkedIn(t, mem, l)
			t.Cleanup(func() { w.Close() })
			big, small := blobtest.Data(3<<20, 70), []byte("one chunk")
			bd, sd := blobtest.Put(t, w, big), blobtest.Put(t, w, small)
			chunks, err := w.Chunks(t.Context(), bd)
			if err != nil || len(chunks) < 2 {
				t.Fatalf("chunks: %v, %v", chunks, err)
			}
			all := keys(t, mem, "")
			for key := range all {
				if strings.HasPrefix(key, prefix[l.Other()]) || strings.HasPrefix(key, "chunk") && !strings.HasPrefix(key, prefix[l]) {
					t.Errorf("a store writing %s layout wrote %s", l, key)
				}
			}
			if n := len(keys(t, mem, prefix[l])); n != len(chunks)+1 {
				t.Errorf("%d objects under %s, want %d chunks", n, prefix[l], len(chunks)+1)
			}

			r := chunkedIn(t, mem, l.Other()) // shares mem: not closed
			blobtest.ReadAndCheck(t, r, bd, big)
			blobtest.ReadAndCheck(t, r, sd, small)
			for _, d := range []castore.Digest{bd, sd, chunks[0].Digest} {
				if ok, err := r.Has(t.Context(), d); !ok || err != nil {
					t.Errorf("Has(%s) = %v, %v", d, ok, err)
				}
			}
			if got, err := r.Chunks(t.Context(), bd); err != nil || !slices.Equal(got, chunks) {
				t.Errorf("Chunks = %v, %v", got, err)
			}
			if got, err := r.Chunks(t.Context(), sd); err != nil || len(got) != 0 {
				t.Errorf("Chunks of a blob of one chunk = %v, %v", got, err)
			}
			if got, err := castore.ReadChunk(t.Context(), r, chunks[1]); err != nil || !bytes.Equal(got, big[chunks[0].Size:chunks[0].Size+chunks[1].Size]) {
				t.Errorf("ReadChunk: %v", err)
			}
			if comp, err := castore.ReadCompressedChunk(t.Context(), r, sd); err != nil {
				t.Errorf("ReadCompressedChunk: %v", err)
			} else if got, err := chunkfmt.DecodeChunk(sd, comp, int64(len(small))); err != nil || !bytes.Equal(got, small) {
				t.Errorf("ReadCompressedChunk decodes to %q, %v", got, err)
			}
			// An index over chunks in the other layout.
			whole := slices.Concat(big[:chunks[0].Size], small)
			wd := castore.Sum(whole)
			if err := castore.PutIndex(t.Context(), r, wd, []castore.ChunkMeta{chunks[0], {Digest: sd, Size: uint64(len(small))}}); err != nil {
				t.Fatalf("PutIndex over chunks in the other layout: %v", err)
			}
			blobtest.ReadAndCheck(t, r, wd, whole)
			// What it writes goes to its own layout.
			blobtest.Put(t, r, []byte("written by the other"))
			if n := len(keys(t, mem, prefix[l.Other()])); n != 1 {
				t.Errorf("%d objects under %s after one write, want 1", n, prefix[l.Other()])
			}
			if ok, err := r.Has(t.Context(), castore.Sum([]byte("never stored"))); ok || err != nil {
				t.Errorf("Has of a blob never stored = %v, %v", ok, err)
			}
		})
	}
	if _, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{ChunkLayout: "nix"}); err == nil {
		t.Error("an unknown chunk layout was accepted")
	}
}
