package chunkstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore/memstore"
)

// backdate makes every object in m look written at t.
func backdate(t *testing.T, m *memstore.Store, at time.Time) {
	t.Helper()
	for oi, err := range m.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SetModTime(oi.Key, at); err != nil {
			t.Fatal(err)
		}
	}
}

// oldKeys lists the objects older than before.
func oldKeys(t *testing.T, m *memstore.Store, before time.Time) []string {
	t.Helper()
	var old []string
	for oi, err := range m.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		if oi.ModTime.Before(before) {
			old = append(old, oi.Key)
		}
	}
	return old
}

func freshChunked(t *testing.T, m *memstore.Store, age time.Duration) *chunkstore.Chunked {
	t.Helper()
	c, err := chunkstore.NewChunked(m, chunkstore.ChunkedOptions{AvgChunkSize: 64 << 10, FreshenAge: age})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A write that finds its chunks and index stored, old, touches each one
// it relies on: after it nothing is older than FreshenAge.
func TestFreshenOnDedup(t *testing.T) {
	m := memstore.New()
	data := blobtest.Data(2<<20, 3)
	d := blobtest.Put(t, freshChunked(t, m, time.Hour), data)
	old := time.Now().Add(-48 * time.Hour)
	backdate(t, m, old)
	began := time.Now()
	if got := blobtest.Put(t, freshChunked(t, m, time.Hour), data); got != d {
		t.Fatalf("digest %s, want %s", got, d)
	}
	if left := oldKeys(t, m, began.Add(-time.Second)); len(left) != 0 {
		t.Errorf("a write deduplicating against old objects left %d of them old: %v", len(left), left)
	}
}

// A yes from Has is relied on (an upload skipped): the blob's object is
// touched, for a blob of one chunk its chunk, for a chunked one its index.
func TestFreshenOnHas(t *testing.T) {
	m := memstore.New()
	w := freshChunked(t, m, time.Hour)
	small := blobtest.Put(t, w, []byte("one chunk"))
	big := blobtest.Put(t, w, blobtest.Data(2<<20, 4))
	backdate(t, m, time.Now().Add(-48*time.Hour))
	began := time.Now().Add(-time.Second)
	c := freshChunked(t, m, time.Hour)
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

// The known set vouches for freshness for FreshenAge only: after it, a
// write that would skip a chunk looks at its time again and touches it.
func TestFreshenKnownExpires(t *testing.T) {
	m := memstore.New()
	c := freshChunked(t, m, 300*time.Millisecond)
	data := blobtest.Data(1<<20, 5)
	blobtest.Put(t, c, data)
	backdate(t, m, time.Now().Add(-time.Hour))
	// Within FreshenAge: trusted, nothing touched.
	blobtest.Put(t, c, data)
	if left := oldKeys(t, m, time.Now().Add(-time.Minute)); len(left) == 0 {
		t.Error("a write within FreshenAge of the last touched what the known set vouched for")
	}
	time.Sleep(400 * time.Millisecond)
	began := time.Now().Add(-time.Second)
	blobtest.Put(t, c, data)
	if left := oldKeys(t, m, began); len(left) != 0 {
		t.Errorf("after FreshenAge a write trusted its memory: %d objects left old: %v", len(left), left)
	}
}

// Freshen of a blob not stored is ErrNotFound; freshening is off for a
// store that cannot touch, and FreshenAge < 0 turns it off.
func TestFreshen(t *testing.T) {
	m := memstore.New()
	c := freshChunked(t, m, time.Hour)
	err := castore.Freshen(t.Context(), c, []castore.Digest{castore.Sum([]byte("absent"))})
	if !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("Freshen of an absent blob: %v, want ErrNotFound", err)
	}
	d := blobtest.Put(t, c, []byte("here"))
	backdate(t, m, time.Now().Add(-48*time.Hour))
	off := freshChunked(t, m, -1)
	if err := castore.Freshen(context.Background(), off, []castore.Digest{d}); err != nil {
		t.Fatal(err)
	}
	if len(oldKeys(t, m, time.Now().Add(-time.Hour))) != 1 {
		t.Error("Freshen with FreshenAge < 0 touched")
	}
	if err := castore.Freshen(t.Context(), freshChunked(t, m, time.Hour), []castore.Digest{d}); err != nil {
		t.Fatal(err)
	}
	if left := oldKeys(t, m, time.Now().Add(-time.Hour)); len(left) != 0 {
		t.Errorf("Freshen left %v old", left)
	}
	nf, err := chunkstore.NewNearFar(chunkstore.NewMemory(), c, chunkstore.NearFarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := castore.Freshen(t.Context(), nf, []castore.Digest{castore.Sum([]byte("absent"))}); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("NearFar's Freshen does not reach far: %v", err)
	}
}
