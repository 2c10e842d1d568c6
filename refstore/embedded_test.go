package refstore_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/refstore"
	"github.com/castore-go/castore/reftest"
)

func openEmbedded(t *testing.T, path string) *refstore.Embedded {
	t.Helper()
	e, err := refstore.OpenEmbedded(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestEmbedded(t *testing.T) {
	reftest.Run(t, func(t *testing.T) castore.RefService {
		return openEmbedded(t, filepath.Join(t.TempDir(), "refs.db"))
	})
}

func TestEmbeddedReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refs.db")
	e, err := refstore.OpenEmbedded(path)
	if err != nil {
		t.Fatal(err)
	}
	set := reftest.MustSet(t, e, castore.Tag{Name: "kept", Root: reftest.Root(1)})
	e.Close()
	got, err := openEmbedded(t, path).Get(t.Context(), "kept")
	if err != nil || !reftest.Equal(got, set) {
		t.Fatalf("after reopening: %+v, %v; want %+v", got, err, set)
	}
}

func TestEmbeddedInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refs.db")
	openEmbedded(t, path)
	_, err := refstore.OpenEmbedded(path)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), path) {
		t.Fatalf("opening a held file: %v", err)
	}
}

// A record that is not one of ours is ErrCorrupt, for Get, List and the
// conditional calls, never a tag.
func TestEmbeddedCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refs.db")
	e, err := refstore.OpenEmbedded(path)
	if err != nil {
		t.Fatal(err)
	}
	reftest.MustSet(t, e, castore.Tag{Name: "bad", Root: reftest.Root(1)})
	e.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("tags")).Put([]byte("bad"), []byte("\x08\x02")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	e = openEmbedded(t, path)
	if _, err := e.Get(t.Context(), "bad"); !errors.Is(err, castore.ErrCorrupt) {
		t.Fatalf("Get of a record of version 2: %v", err)
	}
	for _, err := range e.List(t.Context(), "") {
		if !errors.Is(err, castore.ErrCorrupt) {
			t.Fatalf("List: %v", err)
		}
	}
	if _, err := e.Set(t.Context(), castore.Tag{Name: "bad", Root: reftest.Root(2)}, castore.ExpectAbsent()); !errors.Is(err, castore.ErrCorrupt) {
		t.Fatalf("conditional Set over a corrupt record: %v", err)
	}
	if err := e.Delete(t.Context(), "bad", castore.ExpectRoot(reftest.Root(1))); !errors.Is(err, castore.ErrCorrupt) {
		t.Fatalf("conditional Delete of a corrupt record: %v", err)
	}
	// Unconditional calls repair: Set replaces it, Delete removes it.
	set := reftest.MustSet(t, e, castore.Tag{Name: "bad", Root: reftest.Root(3)})
	if got, err := e.Get(t.Context(), "bad"); err != nil || !reftest.Equal(got, set) {
		t.Fatalf("after an unconditional Set over a corrupt record: %+v, %v", got, err)
	}
}
