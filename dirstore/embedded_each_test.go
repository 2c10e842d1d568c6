package dirstore_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
)

// Digests walks every directory, across pages, each once, and lets the
// caller write meanwhile.
func TestEmbeddedDigests(t *testing.T) {
	e, err := dirstore.OpenEmbedded(filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const n = 2500
	for i := range n {
		d, err := castore.NewDirectory(castore.Entry{Name: castore.PathComponent(fmt.Sprint(i)), Node: castore.SymlinkNode("t")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Put(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[castore.Digest]bool{}
	for d, err := range e.Digests(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[d] {
			t.Fatalf("%s twice", d)
		}
		seen[d] = true
		if _, err := e.Get(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		if len(seen) == 1 { // a write in the middle of the walk does not hang it
			x, _ := castore.NewDirectory(castore.Entry{Name: "written during the walk", Node: castore.SymlinkNode("t")})
			if _, err := e.Put(t.Context(), x); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(seen) < n {
		t.Errorf("walked %d directories, want %d or more", len(seen), n)
	}
}
