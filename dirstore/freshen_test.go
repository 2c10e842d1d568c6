package dirstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/objectstore/memstore"
)

// A put of a closure whose bundle is stored and old touches the bundle
// (the writer relies on it); Freshen does the same for a root, and a root
// without a bundle is ErrNotFound.
func TestBundlesFreshen(t *testing.T) {
	ctx := t.Context()
	m := memstore.New()
	b, err := dirstore.NewBundles(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaf, mid, root := dirtest.SmallClosure(t)
	if _, err := dirtest.Put(ctx, b, leaf, mid, root); err != nil {
		t.Fatal(err)
	}
	key := dirstore.BundleKey(root.Digest())
	old := time.Now().Add(-48 * time.Hour)
	age := func() time.Duration {
		oi, err := m.Head(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return time.Since(oi.ModTime)
	}
	if err := m.SetModTime(key, old); err != nil {
		t.Fatal(err)
	}
	if _, err := dirtest.Put(ctx, b, leaf, mid, root); err != nil {
		t.Fatal(err)
	}
	if a := age(); a > time.Minute {
		t.Errorf("a put of a stored old closure left its bundle %v old", a)
	}
	if err := m.SetModTime(key, old); err != nil {
		t.Fatal(err)
	}
	if err := castore.Freshen(ctx, b, []castore.Digest{root.Digest()}); err != nil {
		t.Fatal(err)
	}
	if a := age(); a > time.Minute {
		t.Errorf("Freshen left the bundle %v old", a)
	}
	err = castore.Freshen(ctx, b, []castore.Digest{leaf.Digest()})
	if !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("Freshen of a root without a bundle: %v, want ErrNotFound", err)
	}
}
