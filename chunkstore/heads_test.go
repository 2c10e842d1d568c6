package chunkstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/packstore"
)

func openPack(t *testing.T) *packstore.Store {
	t.Helper()
	p, err := packstore.Open(t.TempDir(), packstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChunkedOnPack(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) castore.BlobService { return chunked(t, openPack(t)) })
}

// indexedCounting counts requests, as counting does, and forwards
// whether Head is answered from memory.
type indexedCounting struct{ *counting }

func (c indexedCounting) HeadsIndexed() bool { return objectstore.HeadsIndexed(c.Store) }

// On a pack store (Head from its index) Has and Missing read nothing: a
// blob of one chunk costs a Head of its chunk key, a chunked one two (its
// chunk key, its index), one not stored three (both layouts; Missing's
// two while the other layout is empty). A store that reads (the
// same pack store, not saying so) reads one object per blob found.
func TestHasOnIndexedHeadsReadsNothing(t *testing.T) {
	p := openPack(t)
	if !objectstore.HeadsIndexed(p) {
		t.Fatal("a pack store does not say it answers Head from memory")
	}
	w := chunked(t, p)
	small := blobtest.Put(t, w, []byte("one chunk"))
	big := blobtest.Put(t, w, blobtest.Data(2<<20, 4))
	absent := castore.Sum([]byte("never stored"))

	cnt := &counting{Store: p}
	c, err := chunkstore.NewChunked(indexedCounting{cnt}, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []castore.Digest{small, big} {
		if ok, err := c.Has(t.Context(), d); !ok || err != nil {
			t.Fatalf("Has %s = %v, %v", d, ok, err)
		}
	}
	if ok, err := c.Has(t.Context(), absent); ok || err != nil {
		t.Fatalf("Has of a blob never stored = %v, %v", ok, err)
	}
	if g, h := cnt.gets.Load(), cnt.heads.Load(); g != 0 || h != 6 {
		t.Errorf("Has of a small, a chunked and an absent blob: %d reads, %d heads; want 0 and 6", g, h)
	}
	cnt.reset()
	c, err = chunkstore.NewChunked(indexedCounting{cnt}, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := castore.Missing(t.Context(), c, []castore.Digest{small, absent, big})
	if err != nil || !slices.Equal(got, []castore.Digest{absent}) {
		t.Fatalf("Missing = %v, %v", got, err)
	}
	if g, h := cnt.gets.Load(), cnt.heads.Load(); g != 0 || h != 5 {
		t.Errorf("Missing of a small, an absent and a chunked blob: %d reads, %d heads; want 0 and 5", g, h)
	}
	// What Has did not learn, StatBlobs reads.
	sizes := map[castore.Digest]uint64{}
	err = castore.StatBlobs(t.Context(), c, []castore.Digest{small, big}, func(d castore.Digest, size uint64, ok bool) error {
		if ok {
			sizes[d] = size
		}
		return nil
	})
	if err != nil || sizes[small] != uint64(len("one chunk")) || sizes[big] != 2<<20 {
		t.Errorf("StatBlobs after Has = %v, %v", sizes, err)
	}

	cnt.reset()
	c, err = chunkstore.NewChunked(cnt, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []castore.Digest{small, big} {
		if ok, err := c.Has(t.Context(), d); !ok || err != nil {
			t.Fatalf("Has %s = %v, %v", d, ok, err)
		}
	}
	if g := cnt.gets.Load(); g == 0 {
		t.Error("Has on a store that does not answer Head from memory read nothing: the count above proves nothing")
	}
}

// indexedMem is a memory store that says it answers Head from memory, so
// Has asks it Head.
type indexedMem struct{ *memstore.Store }

func (indexedMem) HeadsIndexed() bool { return true }

// Has by Head still freshens: the object a yes rests on, old, is touched.
func TestHasByHeadFreshens(t *testing.T) {
	m := memstore.New()
	w := freshChunked(t, m, time.Hour)
	small := blobtest.Put(t, w, []byte("one chunk"))
	big := blobtest.Put(t, w, blobtest.Data(2<<20, 4))
	backdate(t, m, time.Now().Add(-48*time.Hour))
	began := time.Now().Add(-time.Second)
	c, err := chunkstore.NewChunked(indexedMem{m}, chunkstore.ChunkedOptions{AvgChunkSize: 64 << 10, FreshenAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []castore.Digest{small, big} {
		if ok, err := c.Has(t.Context(), d); !ok || err != nil {
			t.Fatalf("Has %s = %v, %v", d, ok, err)
		}
	}
	for _, key := range []string{chunkfmt.ChunkKey(small), chunkfmt.IndexKey(big)} {
		oi, err := m.Head(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if oi.ModTime.Before(began) {
			t.Errorf("%s still old after a Has: %v", key, oi.ModTime)
		}
	}
}
