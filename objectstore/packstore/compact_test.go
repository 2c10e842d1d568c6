package packstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/packstore"
)

func value(i, gen int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("v%d.%d;", i, gen)), 200) }

func get(t *testing.T, s objectstore.Store, key string) ([]byte, error) {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// checkState: every key of want reads back its value; every key of gone
// is not found.
func checkState(t *testing.T, s objectstore.Store, want map[string][]byte, gone []string) {
	t.Helper()
	for k, v := range want {
		got, err := get(t, s, k)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", k, len(got), err, len(v))
		}
	}
	for _, k := range gone {
		if _, err := get(t, s, k); !errors.Is(err, objectstore.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", k, err)
		}
	}
}

// Compact reclaims the packs a delete and an overwrite left mostly dead,
// keeps every live object (and reopened, too), and keeps deleted what a
// tombstone in a removed pack deleted from a pack that stays.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir, packstore.Options{PackSize: 32 << 10})
	want := map[string][]byte{}
	var gone []string
	// Early keys, mostly kept: their packs stay.
	for i := range 40 {
		k := fmt.Sprintf("keep/%03d", i)
		want[k] = value(i, 0)
		mustPut(t, s, k, want[k])
	}
	// A key of a pack that stays, deleted in a pack that goes: its
	// tombstone must outlive the pack it is in.
	mustPut(t, s, "hidden", value(999, 0))
	for i := range 200 {
		k := fmt.Sprintf("churn/%03d", i)
		mustPut(t, s, k, value(i, 1))
		if i%4 == 0 {
			want[k] = value(i, 2)
			mustPut(t, s, k, want[k]) // an overwrite
		} else {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "hidden"); err != nil {
		t.Fatal(err)
	}
	gone = append(gone, "hidden")
	// And one deleted, then put again.
	mustPut(t, s, "again", value(5, 0))
	if err := s.Delete(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	want["again"] = value(5, 1)
	mustPut(t, s, "again", want["again"])

	before := s.Size()
	// Readers during the compaction never miss a live object.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr error
	var mu sync.Mutex
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for k, v := range want {
					got, err := get(t, s, k)
					if err != nil || !bytes.Equal(got, v) {
						mu.Lock()
						readErr = fmt.Errorf("%s during compaction: %v", k, err)
						mu.Unlock()
						return
					}
				}
			}
		})
	}
	reclaimed, err := objectstore.Compact(ctx, s)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if readErr != nil {
		t.Error(readErr)
	}
	if after := s.Size(); reclaimed <= 0 || after >= before {
		t.Errorf("reclaimed %d bytes, size %d -> %d", reclaimed, before, after)
	}
	t.Logf("reclaimed %d bytes: %d -> %d", reclaimed, before, s.Size())
	checkState(t, s, want, gone)
	// Again: nothing more to do, nothing lost.
	if n, err := objectstore.Compact(ctx, s); err != nil || n < 0 {
		t.Errorf("a second Compact: %d, %v", n, err)
	}
	checkState(t, s, want, gone)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, packstore.Options{PackSize: 32 << 10})
	checkState(t, s, want, gone)
	n := 0
	for _, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(want) {
		t.Errorf("reopened: %d objects listed, want %d", n, len(want))
	}
}

func mustPut(t *testing.T, s objectstore.Store, key string, v []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(v)); err != nil {
		t.Fatal(err)
	}
}

// A tombstone in a pack compaction removes, hiding a put in a pack that
// stays, is written again: reopened, the key stays deleted.
func TestCompactKeepsNeededTombstones(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir, packstore.Options{PackSize: 32 << 10})
	// Pack 1: hidden and 20 live keys; it stays (more than half live).
	mustPut(t, s, "hidden", value(0, 0))
	want := map[string][]byte{}
	for i := range 20 {
		k := fmt.Sprintf("keep/%02d", i)
		want[k] = value(i, 0)
		mustPut(t, s, k, want[k])
	}
	// Too large for the rest of pack 1: it begins pack 2, and seals 1.
	mustPut(t, s, "dead1/big", bytes.Repeat([]byte("x"), 12<<10))
	gone := []string{"dead1/big"}
	// Pack 2: then hidden's tombstone, and dead ones: it goes.
	if err := s.Delete(ctx, "hidden"); err != nil {
		t.Fatal(err)
	}
	gone = append(gone, "hidden")
	for i := range 40 {
		k := fmt.Sprintf("dead2/%02d", i)
		mustPut(t, s, k, value(i, 2))
		gone = append(gone, k)
	}
	for _, k := range gone {
		if k != "hidden" {
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 40 { // seal what holds the other tombstones
		k := fmt.Sprintf("late/%02d", i)
		want[k] = value(i, 3)
		mustPut(t, s, k, want[k])
	}
	reclaimed, err := objectstore.Compact(ctx, s)
	if err != nil || reclaimed <= 0 {
		t.Fatalf("Compact: %d, %v", reclaimed, err)
	}
	checkState(t, s, want, gone)
	s.Close()
	s = open(t, dir, packstore.Options{PackSize: 32 << 10})
	defer s.Close()
	checkState(t, s, want, gone)
}
