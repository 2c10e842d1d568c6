package refstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/refstore"
)

func putBlob(t *testing.T, s castore.BlobService, b []byte) castore.Node {
	t.Helper()
	w := s.Create(t.Context())
	w.Write(b)
	d, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return castore.FileNode(d, uint64(len(b)), false)
}

// statless hides the blob service's StatBlobs: lookups go one by one.
type statless struct{ castore.BlobService }

func TestRequireComplete(t *testing.T) {
	for _, batched := range []bool{true, false} {
		blobs := chunkstore.NewMemory()
		var checked castore.BlobService = blobs
		if !batched {
			checked = statless{blobs}
		}
		dirs := dirstore.NewMemory()
		inner := refstore.NewMemory()
		refs := refstore.RequireComplete(inner, dirs, checked)

		file := putBlob(t, blobs, []byte("stored"))
		leaf := dirtest.MustDir(t, castore.Entry{Name: "f", Node: file}, castore.Entry{Name: "e", Node: castore.FileNode(castore.EmptyDigest, 0, false)})
		root := dirtest.MustDir(t, dirtest.Sub("leaf", leaf), castore.Entry{Name: "l", Node: castore.SymlinkNode("x")})
		if _, err := dirtest.Put(t.Context(), dirs, leaf, root); err != nil {
			t.Fatal(err)
		}
		missingBlob := castore.FileNode(castore.Sum([]byte("never stored")), 12, false)
		holey := dirtest.MustDir(t, castore.Entry{Name: "hole", Node: missingBlob})
		if _, err := dirtest.Put(t.Context(), dirs, holey); err != nil {
			t.Fatal(err)
		}
		unstored := dirtest.MustDir(t, castore.Entry{Name: "f", Node: file}, castore.Entry{Name: "g", Node: file})

		good := map[string]castore.Node{
			"directory": root.Node(),
			"leaf":      leaf.Node(),
			"file":      file,
			"empty":     castore.FileNode(castore.EmptyDigest, 0, false),
			"symlink":   castore.SymlinkNode("anything"),
		}
		for name, n := range good {
			if _, err := refs.Set(t.Context(), castore.Tag{Name: name, Root: n}, castore.ExpectAny); err != nil {
				t.Fatalf("batched=%v: Set of a complete %s: %v", batched, name, err)
			}
		}
		bad := map[string]struct {
			root castore.Node
			says string
		}{
			"missing-dir":  {unstored.Node(), unstored.Digest().String()},
			"dir-size":     {castore.DirectoryNode(root.Digest(), root.Size()+1), "size"},
			"missing-blob": {holey.Node(), missingBlob.Digest.String()},
			"blob-absent":  {missingBlob, missingBlob.Digest.String()},
			"blob-size":    {castore.FileNode(file.Digest, file.Size+1, false), "size"},
		}
		for name, c := range bad {
			_, err := refs.Set(t.Context(), castore.Tag{Name: name, Root: c.root}, castore.ExpectAbsent())
			if !errors.Is(err, castore.ErrIncomplete) || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), name) {
				t.Errorf("batched=%v: Set of %s: %v, want ErrIncomplete naming %s", batched, name, err, c.says)
			}
			if _, err := inner.Get(t.Context(), name); !errors.Is(err, castore.ErrNotFound) {
				t.Errorf("batched=%v: a refused Set of %s stored it: %v", batched, name, err)
			}
		}
		// Validation comes first, and the rest passes through.
		if _, err := refs.Set(t.Context(), castore.Tag{Name: "../x", Root: missingBlob}, castore.ExpectAny); !errors.Is(err, castore.ErrInvalid) {
			t.Fatalf("Set of a bad name: %v", err)
		}
		if err := refs.Delete(t.Context(), "file", castore.ExpectRoot(file)); err != nil {
			t.Fatal(err)
		}
		if _, err := refs.Get(t.Context(), "directory"); err != nil {
			t.Fatal(err)
		}
	}
}
