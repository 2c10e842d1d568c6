package refstore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/gcsstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/s3store"
	"github.com/castore-go/castore/refstore"
	"github.com/castore-go/castore/reftest"
)

func TestObjectStoreMemory(t *testing.T) {
	reftest.Run(t, func(t *testing.T) castore.RefService { return refstore.NewObjectStore(memstore.New()) })
}

func TestObjectStoreFile(t *testing.T) {
	reftest.Run(t, func(t *testing.T) castore.RefService {
		s, err := filestore.New(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return refstore.NewObjectStore(s)
	})
}

// Instrumented and bounded, as compose opens object stores.
func TestObjectStoreDecorated(t *testing.T) {
	reftest.Run(t, func(t *testing.T) castore.RefService {
		return refstore.NewObjectStore(objectstore.WithDeadline(objectstore.Instrument(memstore.New(), "memory"), 0))
	})
}

func TestObjectStoreS3(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	n := 0
	reftest.Run(t, func(t *testing.T) castore.RefService {
		n++
		s, err := s3store.Open(t.Context(), m.URL(fmt.Sprintf("refs-conformance/%d", n)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return refstore.NewObjectStore(s)
	})
}

func TestObjectStoreGCS(t *testing.T) {
	g := testenv.FakeGCS(t, testenv.GCSMemory)
	g.SetEnv(t)
	n := 0
	reftest.Run(t, func(t *testing.T) castore.RefService {
		n++
		s, err := gcsstore.Open(t.Context(), g.URL(fmt.Sprintf("refs-conformance/%d", n)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return refstore.NewObjectStore(s)
	})
}

// plainStore hides the Conditional calls of the store it wraps.
type plainStore struct{ objectstore.Store }

func TestObjectStoreWithoutCompareAndSwap(t *testing.T) {
	s := refstore.NewObjectStore(plainStore{memstore.New()})
	set := reftest.MustSet(t, s, castore.Tag{Name: "a", Root: reftest.Root(1)})
	if got, err := s.Get(t.Context(), "a"); err != nil || !reftest.Equal(got, set) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := s.Set(t.Context(), castore.Tag{Name: "a", Root: reftest.Root(2)}, castore.ExpectRoot(reftest.Root(1))); !errors.Is(err, castore.ErrUnsupported) {
		t.Fatalf("conditional Set: %v, want ErrUnsupported", err)
	}
	if err := s.Delete(t.Context(), "a", castore.ExpectRoot(reftest.Root(1))); !errors.Is(err, castore.ErrUnsupported) {
		t.Fatalf("conditional Delete: %v, want ErrUnsupported", err)
	}
	if err := s.Delete(t.Context(), "a", castore.ExpectAny); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "a", castore.ExpectAny); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("Delete of a deleted tag: %v", err)
	}
}

// A stored object that is not a record of its tag is ErrCorrupt for reads
// and conditional calls; unconditional ones replace or remove it.
func TestObjectStoreCorrupt(t *testing.T) {
	m := memstore.New()
	s := refstore.NewObjectStore(m)
	if err := m.Put(t.Context(), "refs/bad/~", strings.NewReader("garbage")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "bad"); !errors.Is(err, castore.ErrCorrupt) {
		t.Fatalf("Get: %v", err)
	}
	for _, err := range s.List(t.Context(), "") {
		if !errors.Is(err, castore.ErrCorrupt) {
			t.Fatalf("List: %v", err)
		}
	}
	if _, err := s.Set(t.Context(), castore.Tag{Name: "bad", Root: reftest.Root(1)}, castore.ExpectAbsent()); !errors.Is(err, castore.ErrCorrupt) {
		t.Fatalf("conditional Set: %v", err)
	}
	set := reftest.MustSet(t, s, castore.Tag{Name: "bad", Root: reftest.Root(2)})
	if got, err := s.Get(t.Context(), "bad"); err != nil || !reftest.Equal(got, set) {
		t.Fatalf("after an unconditional Set: %+v, %v", got, err)
	}
	if err := m.Put(t.Context(), "refs/bad/~", strings.NewReader("garbage")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "bad", castore.ExpectAny); err != nil {
		t.Fatalf("unconditional Delete of a corrupt record: %v", err)
	}
	// Objects under refs/ that are no tag's are not listed.
	for _, k := range []string{"refs/x", "refs/a~/~", "refs/y/~/~"} {
		if err := m.Put(t.Context(), k, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	for tag, err := range s.List(t.Context(), "") {
		t.Fatalf("List yielded %+v, %v", tag, err)
	}
}
