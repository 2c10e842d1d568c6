package dirstore_test

import (
	"path/filepath"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
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
