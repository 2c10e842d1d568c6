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
// two reads one after another 20 ms each, take a few round trips, not
// 512 x 3 / 32 of them (the gRPC server's Has of each, 32 at once), and
// only the stored ones are left out.
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
	if took > 3*time.Second { // 512 x 3 x 20 ms / 32 would be 0.96 s; 2 x 2 x 20 ms, 0.08 s
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

// A blob not stored costs Missing two reads (its chunk key, its index)
// while the layout not written holds nothing, which one listing tells;
// a blob stored only in that layout, by a store that writes it, is found
// by a fresh store asking after it (its listing finds the layout in use),
// and Has finds it whatever a listing said.
func TestMissingOtherLayout(t *testing.T) {
	for _, l := range []chunkfmt.ChunkLayout{chunkfmt.ChunkLayoutTvix, chunkfmt.ChunkLayoutSnix} {
		t.Run(string(l), func(t *testing.T) {
			mem := memstore.New()
			cnt := &counting{Store: mem}
			c := chunkedIn(t, cnt, l)
			var ask []castore.Digest
			for i := range 10 {
				ask = append(ask, castore.Sum([]byte{byte(i), 'm'}))
			}
			got, err := castore.Missing(t.Context(), c, ask)
			if err != nil || !slices.Equal(got, ask) {
				t.Fatalf("Missing = %v, %v", got, err)
			}
			if g, n := cnt.gets.Load(), cnt.lists.Load(); g != 20 || n != 1 {
				t.Errorf("Missing of 10 blobs not stored: %d reads and %d listings, want 20 and 1", g, n)
			}
			cnt.reset()
			castore.Missing(t.Context(), c, ask)
			if n := cnt.lists.Load(); n != 0 {
				t.Errorf("a second Missing listed %d times, want 0 (the answer is kept)", n)
			}
			// Written in the other layout: a fresh store finds it.
			small := blobtest.Put(t, chunkedIn(t, mem, l.Other()), []byte("in the other layout"))
			fresh := chunkedIn(t, cnt, l)
			if got, err := castore.Missing(t.Context(), fresh, []castore.Digest{small, ask[0]}); err != nil || !slices.Equal(got, ask[:1]) {
				t.Errorf("Missing of a blob in the other layout = %v, %v; want only the one never stored", got, err)
			}
			// Has looks in both layouts whatever the listing said.
			if ok, err := c.Has(t.Context(), small); !ok || err != nil {
				t.Errorf("Has of a blob in the other layout = %v, %v", ok, err)
			}
		})
	}
}
