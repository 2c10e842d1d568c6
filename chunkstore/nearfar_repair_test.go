package chunkstore_test

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
)

// Damage overwrites the object at key with other valid zstd data, as a bad
// disk or a torn write under a cache might leave it.
func damage(t *testing.T, s objectstore.Store, key string) {
	t.Helper()
	enc, err := chunkfmt.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(t.Context(), key); err != nil {
		t.Fatalf("nothing to damage at %s: %v", key, err)
	}
	if err := s.Put(t.Context(), key, bytes.NewReader(enc.Encode([]byte("other bytes entirely")))); err != nil {
		t.Fatal(err)
	}
}

func readThrough(t *testing.T, s castore.BlobService, d castore.Digest, want []byte) {
	t.Helper()
	r, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %s: %d bytes (want %d) that differ, %v", d, len(got), len(want), err)
	}
}

// Issue 19, case 2: a near copy that fails verification (a chunk of a
// split blob, a blob of one chunk, a blob index) is a miss: read from far
// once, the right bytes, near's copy replaced with a warning naming it and
// the cache, and the next read a near hit.
func TestNearFarHealsDamage(t *testing.T) {
	nearStore, farStore := memstore.New(), &counting{Store: memstore.New()}
	near, far := chunked(t, nearStore), chunked(t, farStore)
	var logs testenv.SyncBuffer
	nf, err := chunkstore.NewNearFar(near, far, chunkstore.NearFarOptions{Write: chunkstore.WriteFar})
	if err != nil {
		t.Fatal(err)
	}
	big, small := blobtest.Data(2<<20, 71), []byte("a small blob, one chunk")
	bigD, smallD := blobtest.Put(t, nf, big), blobtest.Put(t, nf, small)
	chunks, err := far.Chunks(t.Context(), bigD)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("want a blob of chunks: %d, %v", len(chunks), err)
	}
	readThrough(t, nf, bigD, big) // fills near
	readThrough(t, nf, smallD, small)

	for _, tc := range []struct {
		name, key string
		d         castore.Digest
		data      []byte
	}{
		{"a chunk of a split blob", chunkfmt.ChunkKey(chunks[1].Digest), bigD, big},
		{"a blob of one chunk", chunkfmt.ChunkKey(smallD), smallD, small},
		{"a blob index", chunkfmt.IndexKey(bigD), bigD, big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key == chunkfmt.IndexKey(bigD) {
				if err := nearStore.Put(t.Context(), tc.key, strings.NewReader("not an index")); err != nil {
					t.Fatal(err)
				}
			} else {
				damage(t, nearStore, tc.key)
			}
			fresh, err := chunkstore.NewChunked(nearStore, chunkstore.ChunkedOptions{}) // what a restart finds
			if err != nil {
				t.Fatal(err)
			}
			nf, err = chunkstore.NewNearFar(fresh, far, chunkstore.NearFarOptions{Name: "the near cache", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			farStore.reset()
			readThrough(t, nf, tc.d, tc.data)
			if n := farStore.gets.Load(); n != 1 {
				t.Errorf("the damaged copy cost %d reads of far, want 1", n)
			}
			if !strings.Contains(logs.String(), "fails verification") || !strings.Contains(logs.String(), "the near cache") {
				t.Errorf("no warning naming the cache:\n%s", logs.String())
			}
			farStore.reset()
			readThrough(t, nf, tc.d, tc.data)
			if n := farStore.total(); n != 0 {
				t.Errorf("the second read made %d requests of far, want 0 (a near hit)", n)
			}
		})
	}
}
