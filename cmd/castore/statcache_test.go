package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/ingest/statcache"
)

// An import into a data dir keeps a stat cache there: a re-import gives
// the same root from the cache, and a file rewritten with the same size
// and its old modification time put back is still read again (its change
// time moved), so the root follows the new contents.
func TestImportStatCache(t *testing.T) {
	c := newCLI(t)
	data := t.TempDir()
	tree := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour)
	for _, name := range []string{"a", "sub/b"} {
		p := filepath.Join(tree, name)
		if err := os.WriteFile(p, []byte("contents of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, hourAgo, hourAgo)
	}
	// Only files whose change time is over a second old are recorded.
	time.Sleep(1100 * time.Millisecond)
	first := strings.TrimSpace(c.ok("import", "--data-dir", data, tree))

	cache, err := statcache.Open(filepath.Join(data, "statcache.db"))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Lstat(filepath.Join(tree, "sub", "b"))
	if d, ok := cache.Lookup(filepath.Join(tree, "sub", "b"), fi); !ok || d != castore.Sum([]byte("contents of sub/b")) {
		t.Fatalf("stat cache after the import: %v, %v", d, ok)
	}
	cache.Close()

	if again := strings.TrimSpace(c.ok("import", "--data-dir", data, tree)); again != first {
		t.Fatalf("re-import gave %s, first %s", again, first)
	}
	p := filepath.Join(tree, "sub", "b")
	if err := os.WriteFile(p, []byte("CONTENTS OF SUB/B"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, hourAgo, hourAgo)
	changed := strings.TrimSpace(c.ok("import", "--data-dir", data, tree))
	off := strings.TrimSpace(c.ok("import", "--data-dir", t.TempDir(), "--stat-cache", "off", tree))
	if changed == first || changed != off {
		t.Fatalf("after a same-size edit with the mtime put back: root %s (first %s, read without cache %s)", changed, first, off)
	}
}
