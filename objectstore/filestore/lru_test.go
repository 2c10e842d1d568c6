package filestore_test

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newLRU(t *testing.T, dir string, max int64) *filestore.LRU {
	t.Helper()
	s, err := filestore.NewLRU(newFile(t, dir, filestore.SyncNone), max, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// With room for everything, an LRU is a Store like any other.
func TestLRUConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objectstore.Store { return newLRU(t, t.TempDir(), 1<<30) })
}

// bytesIn is what the objects of s take.
func bytesIn(t *testing.T, s *filestore.LRU) int64 {
	var n int64
	filepath.WalkDir(s.Root(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			n += fi.Size()
		}
		return err
	})
	return n
}

// Writing ten times the bound keeps the store within about 1.1 times it,
// and what was read most recently is what stays.
func TestLRUBound(t *testing.T) {
	const bound = 100 << 10
	s := newLRU(t, t.TempDir(), bound)
	ctx := t.Context()
	obj := bytes.Repeat([]byte("x"), 4<<10)
	var peak int64
	for i := range 250 { // 1000 KiB in all
		if err := s.Put(ctx, fmt.Sprintf("k/%03d", i), bytes.NewReader(obj)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			time.Sleep(20 * time.Millisecond) // k/000 is read after all the others were written
		}
		if i%10 == 0 {
			r, err := s.Get(ctx, "k/000")
			if err != nil {
				t.Fatalf("k/000, read every ten writes, was evicted: %v", err)
			}
			r.Close()
		}
		peak = max(peak, bytesIn(t, s))
	}
	if peak > bound+bound/10+int64(len(obj)) {
		t.Fatalf("peaked at %d bytes, bound %d", peak, bound)
	}
	if _, err := s.Get(ctx, "k/001"); err == nil {
		t.Error("k/001, never read since, was kept")
	}
}

// NewLRU refuses a bound of no bytes, and shrinks a store already over its
// bound at once.
func TestLRUOpen(t *testing.T) {
	if _, err := filestore.NewLRU(newFile(t, t.TempDir(), filestore.SyncNone), 0, quiet); err == nil || !strings.Contains(err.Error(), "bound") {
		t.Fatalf("bound 0: %v", err)
	}
	dir := t.TempDir()
	big := newLRU(t, dir, 1<<30)
	for i := range 20 {
		if err := big.Put(t.Context(), fmt.Sprintf("k/%02d", i), bytes.NewReader(make([]byte, 10<<10))); err != nil {
			t.Fatal(err)
		}
	}
	small := newLRU(t, dir, 50<<10)
	if n := bytesIn(t, small); n > 50<<10 {
		t.Fatalf("reopened with a bound of 50 KiB, holds %d bytes", n)
	}
}
