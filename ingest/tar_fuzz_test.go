package ingest_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// Issue 19, case 4: a directory and a file of the same name in one
// archive, in either order, are refused with an error naming both
// entries; before, a file after the directory replaced it and dropped
// what was below it.
func TestImportTarDirectoryAndFileOfOneName(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tar         []byte
		first, then string
	}{
		{"directory, below it, then a file", tarOf(t, dirH("top/"), dirH("top/x/"), fileH("top/x/secret"), "s", fileH("top/x"), "f"), "top/x/", "top/x"},
		{"implied directory, then a file", tarOf(t, dirH("top/"), fileH("top/x/secret"), "s", fileH("top/x"), "f"), "top/x/secret", "top/x"},
		{"file, then a directory", tarOf(t, dirH("top/"), fileH("top/x"), "f", dirH("top/x/")), "top/x", "top/x/"},
		{"file, then below it", tarOf(t, dirH("top/"), fileH("top/x"), "f", fileH("top/x/secret"), "s"), "top/x", "top/x/secret"},
		{"directory, then a symlink", tarOf(t, dirH("top/"), dirH("top/x/"), linkH("top/x", "/etc", tar.TypeSymlink)), "top/x/", "top/x"},
		{"directory, then a hard link", tarOf(t, dirH("top/"), fileH("top/f"), "f", dirH("top/x/"), linkH("top/x", "top/f", tar.TypeLink)), "top/x/", "top/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs, dirs := stores(t)
			_, err := ingest.ImportTar(context.Background(), blobs, dirs, bytes.NewReader(tc.tar), ingest.Options{})
			if err == nil || !strings.Contains(err.Error(), `"`+tc.first+`"`) || !strings.Contains(err.Error(), `"`+tc.then+`"`) {
				t.Fatalf("got %v, want an error naming entries %q and %q", err, tc.first, tc.then)
			}
			if dirs.closed != 0 {
				t.Fatal("a refused archive left a root")
			}
		})
	}
}

// entryNamed matches the entry a refusal of an archive names.
var entryNamed = regexp.MustCompile(`archive entry "|archive: |archive has \d+ top-level|archive's only top-level|^put directories:|truncated`)

// FuzzImportTar feeds arbitrary bytes to the tar import: it never
// panics, never stores anything but blobs and directories (it has no
// other way to write), every refusal says which entry (or that the
// archive itself) is at fault, and an accepted archive's root is a
// complete closure in the store.
//
//	go test ./ingest -run '^$' -fuzz FuzzImportTar -fuzztime 5m
func FuzzImportTar(f *testing.F) {
	f.Add(tarOf(f, dirH("r/"), fileH("r/a"), "aaaa", fileH("r/b"), "b"))
	f.Add(tarOf(f, dirH("./"), fileH("./a"), "data", linkH("./l", "./a", tar.TypeLink)))
	f.Add(tarOf(f, dirH("top/"), dirH("top/x/"), fileH("top/x/secret"), "s", fileH("top/x"), "f"))
	f.Add(tarOf(f, dirH("r/"), linkH("r/l", "/etc", tar.TypeSymlink), fileH("r/l/passwd"), "x"))
	f.Add(tarOf(f, dirH("r/"), fileH("r/../../etc/passwd"), "x"))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, archive []byte) {
		ctx := context.Background()
		blobs, dirs := chunkstore.NewMemory(), dirstore.NewMemory()
		n, err := ingest.ImportTar(ctx, blobs, dirs, bytes.NewReader(archive), ingest.Options{Wrap: len(archive)%2 == 0, MemoryBudget: 1 << 20})
		if err != nil {
			if !entryNamed.MatchString(err.Error()) {
				t.Fatalf("a refusal that names no entry nor the archive: %v", err)
			}
			return
		}
		if n.Type != castore.NodeDirectory {
			return // a single file or symlink, with Wrap off is refused; with it, a root
		}
		all, err := closure.Read(ctx, dirs, n.Digest)
		if err != nil {
			t.Fatalf("the root of an accepted archive does not read back: %v", err)
		}
		for _, d := range all {
			for _, e := range d.Entries() {
				if e.Node.Type != castore.NodeFile {
					continue
				}
				r, err := blobs.Open(ctx, e.Node.Digest)
				if err != nil {
					t.Fatalf("entry %q names blob %s, which is not stored: %v", e.Name, e.Node.Digest, err)
				}
				got, err := io.Copy(io.Discard, r)
				r.Close()
				if err != nil || uint64(got) != e.Node.Size {
					t.Fatalf("entry %q: blob of %d bytes, node says %d (%v)", e.Name, got, e.Node.Size, err)
				}
			}
		}
	})
}
