package chunkstore_test

import (
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore/memstore"
)

// StatBlobs costs nothing for blobs the store wrote; on a fresh store one
// request for a blob of one chunk and two for a chunked blob; and nothing
// once asked.
func TestStatBlobsRequests(t *testing.T) {
	cnt := &counting{Store: memstore.New()}
	c := chunked(t, cnt)
	big := blobtest.Data(2<<20, 61)
	small := []byte("a small blob")
	ds := []castore.Digest{blobtest.Put(t, c, big), blobtest.Put(t, c, small), castore.Sum([]byte("absent")), castore.EmptyDigest}
	want := []struct {
		size uint64
		ok   bool
	}{{uint64(len(big)), true}, {uint64(len(small)), true}, {0, false}, {0, true}}
	stat := func(c castore.BlobService) {
		t.Helper()
		i := 0
		err := castore.StatBlobs(t.Context(), c, ds, func(d castore.Digest, size uint64, ok bool) error {
			if d != ds[i] || size != want[i].size || ok != want[i].ok {
				t.Errorf("answer #%d: %s, %d, %v; want %s, %d, %v", i, d, size, ok, ds[i], want[i].size, want[i].ok)
			}
			i++
			return nil
		})
		if err != nil || i != len(ds) {
			t.Fatalf("StatBlobs: %d answers, %v", i, err)
		}
	}
	cnt.reset()
	stat(c)
	// The absent blob costs its three lookups (two chunk layouts and the
	// index); the others none.
	if n := cnt.total(); n != 3 {
		t.Errorf("StatBlobs of blobs just written made %d requests, want 3 (for the absent one)", n)
	}
	fresh := chunked(t, cnt)
	cnt.reset()
	stat(fresh)
	if n := cnt.total(); n != 1+2+3 {
		t.Errorf("StatBlobs on a fresh store made %d requests, want 6 (1 for the small blob, 2 for the chunked one, 3 for the absent one)", n)
	}
	cnt.reset()
	ds, want = ds[:2], want[:2]
	stat(fresh)
	if n := cnt.total(); n != 0 {
		t.Errorf("a second StatBlobs made %d requests, want 0", n)
	}
	// Has reads what it finds, so a directory put after the client asked
	// Has of its files costs nothing more.
	hasFirst := chunked(t, cnt)
	for _, d := range ds {
		if ok, err := hasFirst.Has(t.Context(), d); !ok || err != nil {
			t.Fatalf("Has(%s) = %v, %v", d, ok, err)
		}
	}
	cnt.reset()
	stat(hasFirst)
	if n := cnt.total(); n != 0 {
		t.Errorf("StatBlobs after Has made %d requests, want 0", n)
	}
	// A chunk taken compressed is known with the size its frame declares.
	enc, err := chunkfmt.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(100<<10, 62)
	cd := castore.Sum(data)
	if err := castore.PutCompressedChunk(t.Context(), fresh, cd, enc.Encode(data)); err != nil {
		t.Fatal(err)
	}
	ds, want = []castore.Digest{cd}, want[:1]
	want[0].size = uint64(len(data))
	cnt.reset()
	stat(fresh)
	if n := cnt.total(); n != 0 {
		t.Errorf("StatBlobs of a chunk just taken compressed made %d requests, want 0", n)
	}
}
