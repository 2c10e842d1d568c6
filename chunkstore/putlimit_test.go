package chunkstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
)

// slowPuts delays every PutIfAbsent, records how many were in flight at
// most and how many bytes, and fails them once fail is set.
type slowPuts struct {
	objectstore.Store
	delay              time.Duration
	inFlight, peak     atomic.Int64
	bytesIn, peakBytes atomic.Int64
	fail               atomic.Bool
}

func peak(v *atomic.Int64, n int64) {
	for p := v.Load(); n > p && !v.CompareAndSwap(p, n); p = v.Load() {
	}
}

func (s *slowPuts) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return false, err
	}
	peak(&s.peak, s.inFlight.Add(1))
	defer s.inFlight.Add(-1)
	peak(&s.peakBytes, s.bytesIn.Add(int64(len(body))))
	defer s.bytesIn.Add(-int64(len(body)))
	time.Sleep(s.delay)
	if s.fail.Load() {
		return false, errors.New("bucket unreachable")
	}
	return s.Store.PutIfAbsent(ctx, key, bytes.NewReader(body))
}

// The puts of all writers together stay within ChunkedOptions.Puts, and
// within PutBytes: sixteen writers of 2 MiB each (16 chunks in flight
// each) have at most 6 puts in flight under a bound of 6, and at most 160
// KiB (incompressible: as stored) under a bound of that.
func TestPutsInFlightBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		puts  int
		bytes int64
	}{
		{"count", 6, 0},
		{"bytes", 0, 160 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &slowPuts{Store: memstore.New(), delay: 2 * time.Millisecond}
			c, err := chunkstore.NewChunked(s, chunkstore.ChunkedOptions{AvgChunkSize: 32 << 10, Puts: tc.puts, PutBytes: tc.bytes})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					data := blobtest.Data(2<<20, uint64(100+i))
					w := c.Create(t.Context())
					w.Write(data)
					if d, err := w.Close(); err != nil || d != castore.Sum(data) {
						t.Errorf("writer %d: %v, %v", i, d, err)
					}
				})
			}
			wg.Wait()
			p, b := s.peak.Load(), s.peakBytes.Load()
			t.Logf("%d puts, %d bytes in flight at most", p, b)
			if p < 2 || tc.puts > 0 && p > int64(tc.puts) {
				t.Errorf("%d puts in flight at most, want 2 to %d", p, tc.puts)
			}
			if tc.bytes > 0 && b > tc.bytes+tc.bytes/100 { // a frame's overhead over the chunk's size
				t.Errorf("%d bytes in flight at most, want at most %d", b, tc.bytes)
			}
		})
	}
}

// A write whose puts fail part way answers with an error, and nothing
// says the blob is stored: no index, Has and Missing of a fresh store
// agree it is not.
func TestFailedPutsStoreNothing(t *testing.T) {
	mem := memstore.New()
	s := &slowPuts{Store: mem}
	c, err := chunkstore.NewChunked(s, chunkstore.ChunkedOptions{AvgChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(4<<20, 9)
	w := c.Create(t.Context())
	if _, err := w.Write(data[:1<<20]); err != nil {
		t.Fatal(err)
	}
	s.fail.Store(true)
	w.Write(data[1<<20:])
	if d, err := w.Close(); err == nil {
		t.Fatalf("Close succeeded (%s) with the store failing", d)
	}
	d := castore.Sum(data)
	if _, err := mem.Head(t.Context(), chunkfmt.IndexKey(d)); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("index after a failed write: %v", err)
	}
	fresh := chunked(t, mem)
	if ok, err := fresh.Has(t.Context(), d); ok || err != nil {
		t.Errorf("Has after a failed write = %v, %v", ok, err)
	}
	if got, err := castore.Missing(t.Context(), fresh, []castore.Digest{d}); err != nil || len(got) != 1 {
		t.Errorf("Missing after a failed write = %v, %v", got, err)
	}
}
