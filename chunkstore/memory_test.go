package chunkstore_test

import (
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore/memstore"
)

// A bounded memory store with room for everything is a BlobService like
// any other.
func TestMemoryCacheConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) castore.BlobService { return chunkstore.NewMemoryCache(1 << 30) })
}

// A bounded memory store holds at most its bound, dropping the least
// recently stored or read blobs first, and keeps no blob larger than the
// bound.
func TestMemoryCacheBound(t *testing.T) {
	m := chunkstore.NewMemoryCache(3000)
	var ds []castore.Digest
	for i := range 3 {
		ds = append(ds, blobtest.Put(t, m, blobtest.Data(1000, uint64(i))))
	}
	has := func(d castore.Digest) bool {
		ok, err := m.Has(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	blobtest.ReadAndCheck(t, m, ds[0], blobtest.Data(1000, 0)) // 0 is now the most recently used
	ds = append(ds, blobtest.Put(t, m, blobtest.Data(1000, 3)))
	if m.Size() > 3000 {
		t.Fatalf("holds %d bytes, bound 3000", m.Size())
	}
	if has(ds[1]) {
		t.Error("the least recently used blob was kept")
	}
	for _, i := range []int{0, 2, 3} {
		if !has(ds[i]) {
			t.Errorf("blob %d was dropped", i)
		}
	}
	big := blobtest.Put(t, m, blobtest.Data(3001, 9))
	if has(big) || m.Size() != 3000 {
		t.Errorf("a blob larger than the bound: kept %v, size now %d", has(big), m.Size())
	}
	if !has(castore.EmptyDigest) {
		t.Error("the empty blob is not there")
	}
}

// A near/far cache with a bounded memory near reads everything right
// however little near holds: what near dropped comes from far again.
func TestNearFarMemoryCacheNear(t *testing.T) {
	near := chunkstore.NewMemoryCache(256 << 10)
	far := chunked(t, memstore.New())
	nf, err := chunkstore.NewNearFar(near, far, chunkstore.NearFarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(4<<20, 12)
	d := blobtest.Put(t, far, data)
	for range 2 {
		if !blobtest.ReadAndCheck(t, nf, d, data) {
			t.FailNow()
		}
		if near.Size() > 256<<10 {
			t.Fatalf("near holds %d bytes, bound %d", near.Size(), 256<<10)
		}
	}
}
