package filestore_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/storetest"
)

func TestFile(t *testing.T) {
	for _, mode := range []struct {
		name string
		sync filestore.SyncMode
	}{
		{"SyncGroup", filestore.SyncGroup},
		{"SyncEach", filestore.SyncEach},
		{"SyncNone", filestore.SyncNone},
	} {
		t.Run(mode.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) objectstore.Store {
				return newFile(t, t.TempDir(), mode.sync)
			})
		})
		t.Run(mode.name+"/NamedTemps", func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) objectstore.Store {
				s := newFile(t, t.TempDir(), mode.sync)
				filestore.UseNamedTemps(s)
				return s
			})
		})
	}
}

// On Linux PutIfAbsent writes unnamed files (O_TMPFILE), so the runs of
// the suite above cover both ways of writing.
func TestFileUnnamedOnLinux(t *testing.T) {
	s := newFile(t, t.TempDir(), filestore.SyncNone)
	defer s.Close()
	if got := filestore.Unnamed(s); got != (runtime.GOOS == "linux") {
		t.Fatalf("unnamed files in use: %v on %s", got, runtime.GOOS)
	}
}

func newFile(t *testing.T, root string, mode filestore.SyncMode) *filestore.Store {
	t.Helper()
	s, err := filestore.New(root, &filestore.Options{Sync: mode})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileRelativeRoot(t *testing.T) {
	for _, root := range []string{"", "rel", "./rel", "../rel"} {
		if _, err := filestore.New(root, nil); err == nil || !strings.Contains(err.Error(), "not absolute") {
			t.Errorf("NewFile(%q) = %v, want a 'not absolute' error", root, err)
		}
	}
}

// TestFileLayout checks the on-disk layout tvix's object_store local
// backend shares: key a/b is the file root/a/b, and files named
// "<name>#<digits>" are unfinished writes that List skips.
func TestFileLayout(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	s := newFile(t, root, filestore.SyncGroup)
	defer s.Close()
	if err := s.Put(ctx, "chunks/b3/abcd/abcdef", strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "chunks", "b3", "abcd", "abcdef"))
	if err != nil || string(got) != "data" {
		t.Fatalf("file holds %q, %v", got, err)
	}
	// A leftover temporary file (a crash mid-put) is not an object.
	if err := os.WriteFile(filepath.Join(root, "chunks", "b3", "abcd", "abcdef#123"), []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for info, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if len(keys) != 1 || keys[0] != "chunks/b3/abcd/abcdef" {
		t.Errorf("List = %q, want only the finished object", keys)
	}
	if err := s.Put(ctx, "x#123", strings.NewReader("x")); !errors.Is(err, castore.ErrInvalid) {
		t.Errorf("Put of a temporary-looking key = %v, want ErrInvalid", err)
	}
	// No temporary files remain after puts, failed or not, either way
	// PutIfAbsent writes.
	if err := s.Put(ctx, "chunks/other", failingReader{}); err == nil {
		t.Error("Put with a failing reader succeeded")
	}
	if _, err := s.PutIfAbsent(ctx, "chunks/new/one", failingReader{}); err == nil {
		t.Error("PutIfAbsent with a failing reader succeeded")
	}
	filestore.UseNamedTemps(s)
	if _, err := s.PutIfAbsent(ctx, "chunks/new/two", failingReader{}); err == nil {
		t.Error("PutIfAbsent with a failing reader succeeded")
	}
	if entries, err := os.ReadDir(filepath.Join(root, "chunks", "new")); err != nil || len(entries) != 0 {
		t.Errorf("failed puts left %v in their directory (%v)", entries, err)
	}
	var temps []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if strings.Contains(d.Name(), "#") && !strings.HasSuffix(p, "abcdef#123") {
			temps = append(temps, p)
		}
		return err
	})
	if len(temps) > 0 {
		t.Errorf("temporary files left behind: %q", temps)
	}
}

type failingReader struct{}

func (failingReader) Read(p []byte) (int, error) { return 0, errors.New("boom") }

// TestFileKeyIsDirectory: a key that is a directory of other keys is not an
// object, and cannot be written over.
func TestFileKeyIsDirectory(t *testing.T) {
	t.Run("unnamed", func(t *testing.T) { testFileKeyIsDirectory(t, false) })
	t.Run("named", func(t *testing.T) { testFileKeyIsDirectory(t, true) })
}

func testFileKeyIsDirectory(t *testing.T, named bool) {
	ctx := t.Context()
	s := newFile(t, t.TempDir(), filestore.SyncNone)
	defer s.Close()
	if named {
		filestore.UseNamedTemps(s)
	}
	if err := s.Put(ctx, "a/b", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "a", strings.NewReader("x")); err == nil {
		t.Error("Put over a directory succeeded")
	}
	if created, err := s.PutIfAbsent(ctx, "a", strings.NewReader("x")); err == nil {
		t.Errorf("PutIfAbsent over a directory = %v, nil", created)
	}
	if err := s.Put(ctx, "a/b/c", strings.NewReader("x")); err == nil {
		t.Error("Put below an object succeeded")
	}
	if _, err := s.Head(ctx, "a/b/c"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Head below an object = %v, want ErrNotFound", err)
	}
}

// TestFileConcurrentAcrossStores: two stores on one directory (two
// processes) racing PutIfAbsent on the same keys create each key once.
func TestFileConcurrentAcrossStores(t *testing.T) {
	root := t.TempDir()
	a, b := newFile(t, root, filestore.SyncGroup), newFile(t, root, filestore.SyncGroup)
	defer a.Close()
	defer b.Close()
	var mu sync.Mutex
	created := map[string]int{}
	var wg sync.WaitGroup
	for i := range 16 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for k := range 20 {
				key := "k/" + string(rune('a'+k))
				ok, err := s.PutIfAbsent(context.Background(), key, strings.NewReader(key))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					created[key]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(created) != 20 {
		t.Errorf("%d keys created, want 20", len(created))
	}
	for k, n := range created {
		if n != 1 {
			t.Errorf("%q created %d times", k, n)
		}
	}
}

func TestFileClosed(t *testing.T) {
	s := newFile(t, t.TempDir(), filestore.SyncGroup)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "k", strings.NewReader("x")); err == nil {
		t.Error("Put after Close succeeded")
	}
}

// A directory where unnamed files fail (another file system mounted inside
// the store) gets named temporary files instead.
func TestFileFallsBackFromUnnamed(t *testing.T) {
	root := t.TempDir()
	s := newFile(t, root, filestore.SyncNone)
	defer s.Close()
	filestore.RefuseUnnamed(s)
	if created, err := s.PutIfAbsent(t.Context(), "chunks/ab/cd", strings.NewReader("x")); err != nil || !created {
		t.Fatalf("PutIfAbsent = %v, %v", created, err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "chunks", "ab", "cd")); err != nil || string(got) != "x" {
		t.Fatalf("object holds %q, %v", got, err)
	}
}
