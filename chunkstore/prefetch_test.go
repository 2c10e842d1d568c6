package chunkstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore/memstore"
)

// batchingFar is a far store that reads chunks in batches (as a gRPC
// client of a castore server does), counting its calls; gate, if set,
// holds every batch until it is closed.
type batchingFar struct {
	*chunkstore.Chunked
	batches, batched, singles, chunksCalls atomic.Int64
	entered                                chan struct{} // a batch has started
	gate                                   chan struct{}
	damage                                 map[castore.Digest]bool
}

func (f *batchingFar) ReadCompressedChunks(ctx context.Context, ds []castore.Digest, fn func(castore.Digest, []byte) error) error {
	f.batches.Add(1)
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	for _, d := range ds {
		f.batched.Add(1)
		comp, err := f.Chunked.ReadCompressedChunk(ctx, d)
		switch {
		case errors.Is(err, castore.ErrNotFound):
			comp = nil
		case err != nil:
			return err
		case f.damage[d]:
			comp = []byte("not the chunk")
		}
		if err := fn(d, comp); err != nil {
			return err
		}
	}
	return nil
}

func (f *batchingFar) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	f.singles.Add(1)
	return f.Chunked.ReadCompressedChunk(ctx, d)
}

func (f *batchingFar) Chunks(ctx context.Context, d castore.Digest) ([]castore.ChunkMeta, error) {
	f.chunksCalls.Add(1)
	return f.Chunked.Chunks(ctx, d)
}

func putSmall(t *testing.T, s castore.BlobService, n int) ([]castore.ChunkMeta, map[castore.Digest][]byte) {
	t.Helper()
	var metas []castore.ChunkMeta
	data := map[castore.Digest][]byte{}
	for i := range n {
		b := fmt.Appendf(nil, "small blob %d", i)
		d := blobtest.Put(t, s, b)
		metas = append(metas, castore.ChunkMeta{Digest: d, Size: uint64(len(b))})
		data[d] = b
	}
	return metas, data
}

// Prefetch brings small blobs into near in one batch, skips what near has
// and what far keeps in several chunks, and then every read of them is a
// near hit that asks far nothing; the stats count what came and what was
// read. A far copy that does not check out stays out of near, and its
// reader still reads the right bytes from far.
func TestNearFarPrefetch(t *testing.T) {
	ctx := t.Context()
	far := &batchingFar{Chunked: chunked(t, memstore.New())}
	near := chunked(t, memstore.New())
	nf := nearFar(t, near, far, chunkstore.WriteFar)
	metas, data := putSmall(t, far, 300)
	big := blobtest.Data(3<<20, 2)
	bigD := blobtest.Put(t, far, big)
	far.damage = map[castore.Digest]bool{metas[7].Digest: true}

	all := append([]castore.ChunkMeta{{Digest: bigD, Size: uint64(len(big))}, {Digest: castore.EmptyDigest}}, metas...)
	if err := nf.Prefetch(ctx, all); err != nil {
		t.Fatal(err)
	}
	// 301 blobs to fetch: two batches (256 a batch), then one for the
	// chunks of the blob far keeps in several; none of them single.
	if b, s := far.batches.Load(), far.singles.Load(); b != 3 || s != 0 {
		t.Fatalf("prefetch made %d batch calls and %d single reads, want 3 and 0", b, s)
	}
	for _, m := range metas {
		ok, err := near.Has(ctx, m.Digest)
		if err != nil || ok == (m.Digest == metas[7].Digest) {
			t.Fatalf("near has %s: %v, %v (damaged: %v)", m.Digest, ok, err, m.Digest == metas[7].Digest)
		}
	}
	if ok, _ := near.Has(ctx, bigD); !ok {
		t.Fatal("near lacks the blob of several chunks after a prefetch")
	}
	if st := nf.PrefetchStats(); st.Blobs != 300 || st.UsedBlobs != 0 {
		t.Fatalf("stats after prefetch: %+v", st)
	}

	far.singles.Store(0)
	far.chunksCalls.Store(0)
	for _, m := range metas {
		if m.Digest == metas[7].Digest {
			continue
		}
		if !blobtest.ReadAndCheck(t, nf, m.Digest, data[m.Digest]) {
			t.FailNow()
		}
	}
	if !blobtest.ReadAndCheck(t, nf, bigD, big) {
		t.FailNow()
	}
	if s, c := far.singles.Load(), far.chunksCalls.Load(); s != 0 || c != 0 {
		t.Fatalf("reads of prefetched blobs asked far %d chunks and %d chunk lists", s, c)
	}
	if st := nf.PrefetchStats(); st.UsedBlobs != 300 || st.UsedBytes != st.Bytes {
		t.Fatalf("stats after reading them all: %+v", st)
	}
	if !blobtest.ReadAndCheck(t, nf, metas[7].Digest, data[metas[7].Digest]) {
		t.FailNow()
	}

	far.batches.Store(0)
	if err := nf.Prefetch(ctx, metas); err != nil {
		t.Fatal(err)
	}
	if b := far.batches.Load(); b != 0 {
		t.Fatalf("a prefetch of what near has made %d batch calls", b)
	}

	plain := nearFar(t, chunked(t, memstore.New()), chunked(t, memstore.New()), chunkstore.WriteFar)
	if err := plain.Prefetch(ctx, metas); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("prefetch from a far that cannot batch: %v", err)
	}
}

// A read of a blob whose prefetch batch is on the way waits for the batch
// and asks far nothing itself.
func TestNearFarReadWaitsForPrefetch(t *testing.T) {
	far := &batchingFar{Chunked: chunked(t, memstore.New()), entered: make(chan struct{}, 1), gate: make(chan struct{})}
	nf := nearFar(t, chunked(t, memstore.New()), far, chunkstore.WriteFar)
	metas, data := putSmall(t, far, 3)
	done := make(chan error, 1)
	go func() { done <- nf.Prefetch(context.Background(), metas) }()
	<-far.entered
	read := make(chan bool, 1)
	go func() { read <- blobtest.ReadAndCheck(t, nf, metas[1].Digest, data[metas[1].Digest]) }()
	select {
	case <-read:
		t.Fatal("the read did not wait for the batch on the way")
	case <-time.After(100 * time.Millisecond):
	}
	close(far.gate)
	if !<-read {
		t.FailNow()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s, c := far.singles.Load(), far.chunksCalls.Load(); s != 0 || c != 0 {
		t.Fatalf("the read asked far %d chunks and %d chunk lists", s, c)
	}
}

// A prefetch batch waits while a demand read of a split blob is fetching
// its chunks from far.
func TestNearFarPrefetchYieldsToDemand(t *testing.T) {
	store := chunked(t, memstore.New())
	gate := make(chan struct{})
	far := &slowChunks{batchingFar: &batchingFar{Chunked: store}, gate: gate, entered: make(chan struct{}, 1)}
	nf := nearFar(t, chunked(t, memstore.New()), far, chunkstore.WriteFar)
	metas, _ := putSmall(t, store, 3)
	big := blobtest.Data(3<<20, 5)
	bigD := blobtest.Put(t, store, big)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		blobtest.ReadAndCheck(t, nf, bigD, big) // its chunks wait at the gate
	}()
	<-far.entered
	done := make(chan error, 1)
	go func() { done <- nf.Prefetch(context.Background(), metas) }()
	time.Sleep(100 * time.Millisecond)
	if b := far.batches.Load(); b != 0 {
		t.Fatal("a prefetch batch went out while a demand read was fetching from far")
	}
	close(gate)
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b := far.batches.Load(); b != 1 {
		t.Fatalf("%d batches after the demand read, want 1", b)
	}
}

// slowChunks holds single chunk reads (those of a demand read of a split
// blob) at a gate.
type slowChunks struct {
	*batchingFar
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (s *slowChunks) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	s.once.Do(func() { s.entered <- struct{}{} })
	<-s.gate
	return s.batchingFar.ReadCompressedChunk(ctx, d)
}

// OpenSized of a small blob near lacks costs far one batch call, and no
// chunk list; the next read is a near hit. A size that is not the blob's
// is a corrupt-blob error.
func TestNearFarOpenSized(t *testing.T) {
	ctx := t.Context()
	far := &batchingFar{Chunked: chunked(t, memstore.New())}
	nf := nearFar(t, chunked(t, memstore.New()), far, chunkstore.WriteFar)
	metas, data := putSmall(t, far, 2)
	r, err := castore.OpenSized(ctx, nf, metas[0].Digest, metas[0].Size)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != string(data[metas[0].Digest]) {
		t.Fatalf("read %q", got)
	}
	if b, s, c := far.batches.Load(), far.singles.Load(), far.chunksCalls.Load(); b != 1 || s != 0 || c != 0 {
		t.Fatalf("a cold sized open asked far %d batches, %d chunks, %d chunk lists; want 1, 0, 0", b, s, c)
	}
	if !blobtest.ReadAndCheck(t, nf, metas[0].Digest, data[metas[0].Digest]) || far.batches.Load() != 1 {
		t.Fatal("the second read was not a near hit")
	}
	if _, err := castore.OpenSized(ctx, nf, metas[1].Digest, metas[1].Size+1); !errors.Is(err, castore.ErrCorrupt) {
		t.Fatalf("a wrong size: %v", err)
	}
}

// A sized open of a small blob near holds reads near once (the chunk, as
// the blob is one), asking for no index and no object's existence; the
// first one after its prefetch reads nothing (prefetch kept the bytes it
// verified). A prefetch of what near holds reads nothing of it either.
// The near store keeps no memory of stored chunks, as the mount's cache
// does not.
func TestNearFarOpenSizedNearHit(t *testing.T) {
	ctx := t.Context()
	far := &batchingFar{Chunked: chunked(t, memstore.New())}
	objs := &counting{Store: memstore.New()}
	near, err := chunkstore.NewChunked(objs, chunkstore.ChunkedOptions{KnownChunks: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { near.Close() })
	nf := nearFar(t, near, far, chunkstore.WriteFar)
	metas, data := putSmall(t, far, 3)
	if err := nf.Prefetch(ctx, metas); err != nil {
		t.Fatal(err)
	}
	objs.reset()
	if err := nf.Prefetch(ctx, metas); err != nil {
		t.Fatal(err)
	}
	if g, b := objs.gets.Load(), far.batches.Load(); g != 0 || b != 1 {
		t.Fatalf("a prefetch of what near holds read %d objects of near and made %d batch calls in all; want 0 and 1", g, b)
	}
	// The first read of each takes the bytes prefetch verified, the
	// second reads near.
	for i, wantGets := range []int64{0, 1} {
		for _, m := range metas {
			objs.reset()
			r, err := castore.OpenSized(ctx, nf, m.Digest, m.Size)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			r.Close()
			if string(got) != string(data[m.Digest]) {
				t.Fatalf("read %d: %q, want %q", i+1, got, data[m.Digest])
			}
			if g, h := objs.gets.Load(), objs.heads.Load(); g != wantGets || h != 0 {
				t.Fatalf("read %d of a blob near holds made %d gets and %d heads of near; want %d and 0", i+1, g, h, wantGets)
			}
		}
	}
	if far.singles.Load() != 0 || far.chunksCalls.Load() != 0 || far.batches.Load() != 1 {
		t.Fatal("reads of what near holds asked far")
	}
}
