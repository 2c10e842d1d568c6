package chunkstore_test

import (
	"context"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
)

// slowGets delays every Get as a bucket far away would, and records how
// many were in flight at most.
type slowGets struct {
	objectstore.Store
	delay          time.Duration
	inFlight, peak atomic.Int64
}

func (s *slowGets) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	time.Sleep(s.delay)
	return s.Store.Get(ctx, key)
}

// Missing asks about many digests at once: 512 digests not stored, each
// three requests one after another 20 ms each, take a few round trips,
// not 512 x 3 / 32 of them, and only the stored ones are left out.
func TestMissingAsksManyAtOnce(t *testing.T) {
	m := memstore.New()
	w := chunked(t, m)
	var stored []castore.Digest
	for i := range 8 {
		stored = append(stored, blobtest.Put(t, w, []byte{byte(i), 'x'}))
	}
	stored = append(stored, blobtest.Put(t, w, blobtest.Data(1<<20, 3)))
	var ask, want []castore.Digest
	for i := range 512 {
		d := castore.Sum([]byte{byte(i), byte(i >> 8), 'n'})
		ask, want = append(ask, d), append(want, d)
		if i%64 == 0 {
			ask = append(ask, stored[i/64])
		}
	}
	ask = append(ask, castore.EmptyDigest, stored[8])
	slow := &slowGets{Store: m, delay: 20 * time.Millisecond}
	c := chunked(t, slow)
	began := time.Now()
	got, err := castore.Missing(t.Context(), c, ask)
	took := time.Since(began)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Missing = %d digests, %v; want the %d never stored, in order", len(got), err, len(want))
	}
	if p := slow.peak.Load(); p < 128 {
		t.Errorf("at most %d reads in flight, want at least 128", p)
	}
	if took > 3*time.Second { // 512 x 3 x 20 ms / 32 would be 0.96 s; at 256 at once, 0.12 s
		t.Errorf("Missing of %d took %v", len(ask), took)
	}
	t.Logf("Missing of %d digests, 20 ms a read: %v, %d reads in flight at most", len(ask), took, slow.peak.Load())
}

// A blob Missing finds stored is relied on (its upload skipped): it is
// freshened, as Has does.
func TestMissingFreshens(t *testing.T) {
	m := memstore.New()
	w := freshChunked(t, m, time.Hour)
	small := blobtest.Put(t, w, []byte("one chunk"))
	big := blobtest.Put(t, w, blobtest.Data(2<<20, 4))
	backdate(t, m, time.Now().Add(-48*time.Hour))
	began := time.Now().Add(-time.Second)
	c := freshChunked(t, m, time.Hour)
	other := castore.Sum([]byte("never stored"))
	got, err := castore.Missing(t.Context(), c, []castore.Digest{small, other, big})
	if err != nil || !slices.Equal(got, []castore.Digest{other}) {
		t.Fatalf("Missing = %v, %v", got, err)
	}
	for _, key := range []string{chunkfmt.ChunkKey(small), chunkfmt.IndexKey(big)} {
		oi, err := m.Head(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if oi.ModTime.Before(began) {
			t.Errorf("%s still old after Missing found it: %v", key, oi.ModTime)
		}
	}
}

