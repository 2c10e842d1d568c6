//go:build linux

package fusefront_test

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/fusefront"
	"github.com/castore-go/castore/internal/testenv"
)

// walkTree lists every directory under root and reads every file whole,
// as tar does, and returns how many directories and non-empty files it
// met.
func walkTree(t *testing.T, root string) (dirs, files int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			dirs++
		case e.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if len(b) > 0 {
				files++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs, files
}

// requestTree stores a tree of 3 directories of 4 files each under a
// root directory, and returns the root's node.
func requestTree(f *fixture) castore.Node {
	var subs []castore.Entry
	for i := range 3 {
		var es []castore.Entry
		for j := range 4 {
			data := fmt.Appendf(nil, "file %d of directory %d\n", j, i)
			es = append(es, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("f%d", j)), Node: castore.FileNode(f.putBlob(data), uint64(len(data)), false)})
		}
		d := dirtest.MustDir(f.t, es...)
		f.putDir(d)
		subs = append(subs, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("d%d", i)), Node: d.Node()})
	}
	root := dirtest.MustDir(f.t, subs...)
	f.putDir(root)
	return root.Node()
}

// TestRequestsPerFile counts the requests a walk over the mount costs:
// one READ per file and one readdir per directory; no OPEN, FLUSH or
// RELEASE after the first file (no-open mode), no OPENDIR after the
// first directory and no RELEASEDIR (directories open without a
// request); and nothing at all for a second walk, served from the
// kernel's caches.
func TestRequestsPerFile(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		requireFUSE(t)
		root := requestTree(newFixture(t, s))
		mnt := t.TempDir()
		srv, err := fusefront.Mount(mnt, s.blobs, s.dirs, fusefront.Root{Node: root}, fusefront.Options{Logger: slog.New(slog.NewTextHandler(&testenv.SyncBuffer{}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Unmount()
		dirs, files := walkTree(t, mnt)
		if dirs != 4 || files != 12 {
			t.Fatalf("walk met %d directories and %d files, want 4 and 12", dirs, files)
		}
		got := srv.Requests()
		t.Logf("requests of the first walk: %v", got)
		for op, most := range map[string]int64{"OPEN": 1, "FLUSH": 1, "RELEASE": 1, "OPENDIR": 1, "RELEASEDIR": 0, "READ": int64(files), "READDIR": 2 * int64(dirs), "LOOKUP": 0} {
			if got[op] > most {
				t.Errorf("%s: %d requests for %d directories and %d files, want at most %d", op, got[op], dirs, files, most)
			}
		}
		walkTree(t, mnt)
		again := srv.Requests()
		for op, n := range again {
			if n != got[op] {
				t.Errorf("%s: %d more requests for a second walk, want none", op, n-got[op])
			}
		}
	})
}

// TestRequestsUnlistedRoot: a mount whose root refuses to be listed keeps
// asking for each opendir (the root's is refused every time).
func TestRequestsUnlistedRoot(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		requireFUSE(t)
		f := newFixture(t, s)
		f.roots["tree"] = requestTree(f)
		mnt := t.TempDir()
		srv, err := fusefront.Mount(mnt, s.blobs, s.dirs, fusefront.Root{Named: f.roots}, fusefront.Options{Logger: slog.New(slog.NewTextHandler(&testenv.SyncBuffer{}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Unmount()
		for range 2 {
			_, err := os.ReadDir(mnt)
			wantErrno(t, "readdir of the root", err, syscall.EPERM)
		}
		walkTree(t, filepath.Join(mnt, "tree"))
		if got := srv.Requests(); got["OPENDIR"] < 2+4 || got["RELEASEDIR"] < 4 {
			t.Errorf("requests: %v; want an OPENDIR for each of 2 listings of the root and 4 directories, a RELEASEDIR for each of the 4", got)
		}
	})
}
