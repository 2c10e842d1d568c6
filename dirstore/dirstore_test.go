package dirstore_test

import (
	"path/filepath"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/s3store"
)

func TestMemory(t *testing.T) {
	dirtest.Run(t, func(t *testing.T) castore.DirectoryService { return dirstore.NewMemory() }, dirtest.Options{})
}

func TestEmbedded(t *testing.T) {
	dirtest.Run(t, func(t *testing.T) castore.DirectoryService {
		e, err := dirstore.OpenEmbedded(filepath.Join(t.TempDir(), "dirs.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}, dirtest.Options{})
}

func bundles(t *testing.T, s objectstore.Store) *dirstore.Bundles {
	b, err := dirstore.NewBundles(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestBundlesOnMemory(t *testing.T) {
	dirtest.Run(t, func(t *testing.T) castore.DirectoryService { return bundles(t, memstore.New()) }, dirtest.Options{RootsOnly: true})
}

func TestBundlesOnFile(t *testing.T) {
	dirtest.Run(t, func(t *testing.T) castore.DirectoryService {
		f, err := filestore.New(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return bundles(t, f)
	}, dirtest.Options{RootsOnly: true})
}

func TestBundlesOnMinIO(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	dirtest.Run(t, func(t *testing.T) castore.DirectoryService {
		s, err := s3store.Open(t.Context(), m.URL(testenv.RandomName("dirs")))
		if err != nil {
			t.Fatal(err)
		}
		return bundles(t, s)
	}, dirtest.Options{RootsOnly: true})
}
