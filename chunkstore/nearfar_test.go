package chunkstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/s3store"
)

func nearFar(t *testing.T, near, far castore.BlobService, w chunkstore.WriteTo) *chunkstore.NearFar {
	nf, err := chunkstore.NewNearFar(near, far, chunkstore.NearFarOptions{Write: w})
	if err != nil {
		t.Fatal(err)
	}
	return nf
}

func TestNearFarMemoryNearMinIOFar(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	for _, w := range []chunkstore.WriteTo{chunkstore.WriteBoth, chunkstore.WriteFar} {
		t.Run(string(w), func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) castore.BlobService {
				s, err := s3store.Open(t.Context(), m.URL(testenv.RandomName("blobs")))
				if err != nil {
					t.Fatal(err)
				}
				return nearFar(t, chunkstore.NewMemory(), chunked(t, s), w)
			})
		})
	}
}

// Both sides chunked, writes to far only: every read in the suite is a
// read-through.
func TestNearFarChunkedReadThrough(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) castore.BlobService {
		return nearFar(t, chunked(t, memstore.New()), chunked(t, memstore.New()), chunkstore.WriteFar)
	})
}

func TestParseWriteTo(t *testing.T) {
	for in, want := range map[string]chunkstore.WriteTo{"": chunkstore.WriteBoth, "near": chunkstore.WriteNear, "far": chunkstore.WriteFar, "both": chunkstore.WriteBoth} {
		if got, err := chunkstore.ParseWriteTo(in); err != nil || got != want {
			t.Errorf("ParseWriteTo(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := chunkstore.ParseWriteTo("elsewhere"); err == nil {
		t.Error("ParseWriteTo accepted \"elsewhere\"")
	}
}

// A read through the cache fills near with the chunks and the index, so a
// second read of the same blob makes no request of far; and far is asked
// only for the chunks near lacks.
func TestNearFarReadThrough(t *testing.T) {
	farStore := &counting{Store: memstore.New()}
	nearStore := memstore.New()
	far := chunked(t, farStore)
	data := blobtest.Data(4<<20, 11)
	d := blobtest.Put(t, far, data)
	chunks, err := far.Chunks(t.Context(), d)
	if err != nil || len(chunks) < 4 {
		t.Fatalf("want a blob of several chunks, got %d (%v)", len(chunks), err)
	}
	// Near already holds one chunk of it.
	near := chunked(t, nearStore)
	r, _ := far.Open(t.Context(), chunks[1].Digest)
	one, _ := io.ReadAll(r)
	blobtest.Put(t, near, one)

	nf := nearFar(t, near, chunked(t, farStore), chunkstore.WriteBoth)
	farStore.reset()
	blobtest.ReadAndCheck(t, nf, d, data)
	if g := farStore.gets.Load(); g != int64(len(chunks)) { // the index, and every chunk but one
		t.Errorf("first read made %d GETs of far, want %d (the index and %d chunks)", g, len(chunks), len(chunks)-1)
	}
	for _, c := range chunks {
		if _, err := nearStore.Head(t.Context(), chunkfmt.ChunkKey(c.Digest)); err != nil {
			t.Errorf("chunk %s is not in near after a full read: %v", c.Digest, err)
		}
	}
	if _, err := nearStore.Head(t.Context(), chunkfmt.IndexKey(d)); err != nil {
		t.Errorf("the index is not in near after a full read: %v", err)
	}

	farStore.reset()
	blobtest.ReadAndCheck(t, nearFar(t, chunked(t, nearStore), chunked(t, farStore), chunkstore.WriteBoth), d, data)
	if n := farStore.total(); n != 0 {
		t.Errorf("second read made %d requests of far, want 0", n)
	}
}

// Many readers of the same missing blob fetch each chunk from far once.
func TestNearFarConcurrentReadersFetchOnce(t *testing.T) {
	farStore := &counting{Store: memstore.New()}
	far := chunked(t, farStore)
	data := blobtest.Data(3<<20, 12)
	d := blobtest.Put(t, far, data)
	chunks, _ := far.Chunks(t.Context(), d)
	nf := nearFar(t, chunked(t, memstore.New()), chunked(t, farStore), chunkstore.WriteBoth)
	farStore.reset()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			<-start
			blobtest.ReadAndCheck(t, nf, d, data)
		})
	}
	close(start)
	wg.Wait()
	// 16 index reads at most, and each chunk once. A reader that finds
	// the chunk in near after another fetched it costs far nothing.
	if g := farStore.gets.Load(); g > 16+int64(len(chunks)) {
		t.Errorf("16 concurrent readers made %d GETs of far for %d chunks, want at most %d", g, len(chunks), 16+len(chunks))
	}
}

// failAfter lets n chunk reads through, then fails every Get.
type failAfter struct {
	objectstore.Store
	mu sync.Mutex
	n  int
}

var errFarDown = errors.New("far is down")

func (f *failAfter) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n <= 0 {
		return nil, errFarDown
	}
	f.n--
	return f.Store.Get(ctx, key)
}

// Far failing during a read is an error (never wrong or short bytes), and
// near holds only verified chunks, and no index, afterwards.
func TestNearFarFarFails(t *testing.T) {
	farMem := memstore.New()
	data := blobtest.Data(4<<20, 13)
	d := blobtest.Put(t, chunked(t, farMem), data)
	chunks, _ := chunked(t, farMem).Chunks(t.Context(), d)
	nearStore := memstore.New()
	far := &failAfter{Store: farMem, n: 3} // the index and two chunks
	nf, err := chunkstore.NewNearFar(chunked(t, nearStore), chunked(t, far), chunkstore.NearFarOptions{ReadAhead: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := nf.Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if !errors.Is(err, errFarDown) {
		t.Fatalf("read with far failing: %d bytes, error %v; want the far error", len(got), err)
	}
	if !bytes.Equal(got, data[:len(got)]) {
		t.Fatal("bytes before the error are wrong")
	}
	if _, err := nearStore.Head(t.Context(), chunkfmt.IndexKey(d)); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("near holds an index for a blob it has only part of (%v)", err)
	}
	held := 0
	for oi, err := range nearStore.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		held++
		var c castore.ChunkMeta
		for _, cm := range chunks {
			if chunkfmt.ChunkKey(cm.Digest) == oi.Key {
				c = cm
			}
		}
		if c.Size == 0 {
			t.Errorf("near holds %s, which is no chunk of the blob", oi.Key)
			continue
		}
		blobtest.ReadAndCheck(t, chunked(t, nearStore), c.Digest, data[offsetOf(chunks, c.Digest):][:c.Size])
	}
	if held != 2 {
		t.Errorf("near holds %d objects, want the 2 chunks far gave", held)
	}
}

func offsetOf(chunks []castore.ChunkMeta, d castore.Digest) uint64 {
	var off uint64
	for _, c := range chunks {
		if c.Digest == d {
			return off
		}
		off += c.Size
	}
	return off
}

// A blob far does not split (far is a memory store) is copied into near
// whole and verified.
func TestNearFarUnsplitFar(t *testing.T) {
	far := chunkstore.NewMemory()
	data := blobtest.Data(1<<20, 14)
	d := blobtest.Put(t, far, data)
	near := chunkstore.NewMemory()
	nf := nearFar(t, near, far, chunkstore.WriteBoth)
	blobtest.ReadAndCheck(t, nf, d, data)
	if ok, _ := near.Has(t.Context(), d); !ok {
		t.Error("near does not hold the blob after a read")
	}
}

// gated holds every chunk Get until the gate opens.
type gated struct {
	objectstore.Store
	gate chan struct{}
}

func (g *gated) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.HasPrefix(key, "chunks/") {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Store.Get(ctx, key)
}

// A reader that gives up does not fail another reader sharing its fetch
// from far.
func TestNearFarSharedFetchOutlivesItsStarter(t *testing.T) {
	farMem := memstore.New()
	data := blobtest.Data(1<<20, 15)
	d := blobtest.Put(t, chunked(t, farMem), data)
	far := &gated{Store: farMem, gate: make(chan struct{})}
	nf := nearFar(t, chunked(t, memstore.New()), chunked(t, far), chunkstore.WriteBoth)

	ctxA, cancelA := context.WithCancel(context.Background())
	ra, err := nf.Open(ctxA, d)
	if err != nil {
		t.Fatal(err)
	}
	errA := make(chan error, 1)
	go func() { _, err := io.ReadAll(ra); errA <- err }()
	time.Sleep(50 * time.Millisecond) // A's fetches are waiting at the gate
	errB := make(chan error, 1)
	go func() {
		if blobtest.ReadAndCheck(t, nf, d, data) {
			errB <- nil
		} else {
			errB <- errors.New("B failed")
		}
	}()
	time.Sleep(50 * time.Millisecond)
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled reader: %v, want context.Canceled", err)
	}
	close(far.gate)
	if err := <-errB; err != nil {
		t.Fatal("the reader sharing the cancelled reader's fetch failed")
	}
}

// Has is far's answer: a blob near still holds but far has lost (garbage
// collection deleted it) is not stored, so a writer that asks uploads it
// again instead of leaving a root whose data far lacks.
func TestNearFarHasAsksFar(t *testing.T) {
	farStore := memstore.New()
	nearStore := memstore.New()
	data := blobtest.Data(300<<10, 21)
	d := blobtest.Put(t, chunked(t, nearStore), data)
	nf := nearFar(t, chunked(t, nearStore), chunked(t, farStore), chunkstore.WriteBoth)
	if ok, err := nf.Has(t.Context(), d); err != nil || ok {
		t.Fatalf("Has of a blob only near holds: %v, %v; want false", ok, err)
	}
	d2 := blobtest.Put(t, nf, data)
	if d2 != d {
		t.Fatalf("put %s, want %s", d2, d)
	}
	if ok, err := chunked(t, farStore).Has(t.Context(), d); err != nil || !ok {
		t.Fatalf("after the put through the cache far has it: %v, %v", ok, err)
	}
	if ok, err := nf.Has(t.Context(), d); err != nil || !ok {
		t.Fatalf("Has once far has it: %v, %v", ok, err)
	}
}
