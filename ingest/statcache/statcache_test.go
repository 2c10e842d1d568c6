package statcache

import (
	bolt "go.etcd.io/bbolt"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/castore-go/castore"
)

// write writes path with an mtime an hour ago; its change time stays now,
// so tests open the cache as if the import started later (openLater).
func write(t *testing.T, path, content string) os.FileInfo {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	return lstat(t, path)
}

func lstat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// openLater opens the cache as an import starting after every file the
// test wrote has aged past the racy window.
func openLater(t *testing.T, db string) *Cache {
	t.Helper()
	c, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	c.start = time.Now().Add(2 * racyWindow)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRecordLookupCommit(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(t.TempDir(), "statcache.db")
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "sub", "b")
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	fa, fb := write(t, a, "aaa"), write(t, b, "bbb")
	da, db2 := castore.Sum([]byte("aaa")), castore.Sum([]byte("bbb"))

	c := openLater(t, db)
	if _, ok := c.Lookup(a, fa); ok {
		t.Fatal("hit in an empty cache")
	}
	c.Record(a, fa, da)
	c.Record(b, fb, db2)
	if _, ok := c.Lookup(a, fa); ok {
		t.Fatal("hit before Commit: lookups read only committed entries")
	}
	if err := c.Commit(dir); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c = openLater(t, db)
	if d, ok := c.Lookup(a, fa); !ok || d != da {
		t.Fatalf("Lookup(a) = %v, %v; want %v", d, ok, da)
	}
	// Relative paths name the same entry.
	wd, _ := os.Getwd()
	if rel, err := filepath.Rel(wd, b); err == nil {
		if d, ok := c.Lookup(rel, fb); !ok || d != db2 {
			t.Fatalf("Lookup(relative b) = %v, %v", d, ok)
		}
	}
	c.Close()
	// b deleted: a commit after an import that saw only a drops b.
	os.Remove(b)
	c = openLater(t, db)
	c.Lookup(a, fa)
	if err := c.Commit(dir); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = openLater(t, db)
	if _, ok := c.Lookup(b, fb); ok {
		t.Fatal("entry of a deleted file survived a commit of its root")
	}
	if _, ok := c.Lookup(a, fa); !ok {
		t.Fatal("entry looked up in the last import was dropped")
	}
}

func TestChangedStatMisses(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(t.TempDir(), "statcache.db")
	p := filepath.Join(dir, "f")
	fi := write(t, p, "one")
	c := openLater(t, db)
	c.Record(p, fi, castore.Sum([]byte("one")))
	if err := c.Commit(dir); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Same size, modification time put back: the change time moved.
	time.Sleep(20 * time.Millisecond)
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	c = openLater(t, db)
	if _, ok := c.Lookup(p, lstat(t, p)); ok {
		t.Fatal("hit for a file rewritten with the same size and mtime")
	}
	// A different size, a different inode.
	for name, fi2 := range map[string]os.FileInfo{
		"size":  write(t, filepath.Join(dir, "g"), "longer"),
		"inode": write(t, filepath.Join(dir, "h"), "one"),
	} {
		if _, ok := c.Lookup(p, fi2); ok {
			t.Errorf("hit for a stat with another %s", name)
		}
	}
}

func TestRacyFilesNotRecorded(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("fresh"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi := lstat(t, p)
	c, err := Open(filepath.Join(t.TempDir(), "statcache.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Record(p, fi, castore.Sum([]byte("fresh")))
	if len(c.seen) != 0 {
		t.Fatal("a file changed within a second of the import's start was recorded")
	}
}

func TestInUse(t *testing.T) {
	db := filepath.Join(t.TempDir(), "statcache.db")
	c, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := Open(db); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
}

// A damaged cache is a miss, never a wrong digest or a panic.
func TestHostileEntries(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	fi := write(t, p, "x")
	db := filepath.Join(t.TempDir(), "statcache.db")
	c := openLater(t, db)
	c.Record(p, fi, castore.Sum([]byte("x")))
	c.Commit(dir)
	k, _ := key(p)
	for _, v := range [][]byte{nil, {}, make([]byte, entryLen-1), make([]byte, entryLen+1), []byte("garbage")} {
		c.mu.Lock()
		c.endView() // a write waits for the lookups' read transaction
		c.mu.Unlock()
		c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketFiles).Put([]byte(k), v) })
		if _, ok := c.Lookup(p, fi); ok {
			t.Errorf("hit for a stored value of %d bytes", len(v))
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(stat{1, 2, 3, 4, 5}, castore.Digest{6}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, d, ok := decode(b)
		if !ok {
			return
		}
		if string(encode(s, d)) != string(b) {
			t.Fatal("decode does not invert encode")
		}
	})
}

// A commit after an import that found every entry as it was writes
// nothing; one that saw a change writes.
func TestUnchangedCommitWritesNothing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(t.TempDir(), "statcache.db")
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	fa, fb := write(t, a, "aaa"), write(t, b, "bbb")
	c := openLater(t, db)
	c.Record(a, fa, castore.Sum([]byte("aaa")))
	c.Record(b, fb, castore.Sum([]byte("bbb")))
	if err := c.Commit(dir); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c = openLater(t, db)
	defer c.Close()
	before := writes(c)
	c.Lookup(a, fa)
	c.Lookup(b, fb)
	if err := c.Commit(dir); err != nil {
		t.Fatal(err)
	}
	if n := writes(c) - before; n != 0 {
		t.Errorf("a commit of unchanged entries wrote %d pages, want 0", n)
	}
	c.Lookup(a, fa) // b not seen: its entry goes
	if err := c.Commit(dir); err != nil {
		t.Fatal(err)
	}
	if writes(c) == before {
		t.Error("a commit that drops an entry wrote nothing")
	}
	if _, ok := c.Lookup(b, fb); ok {
		t.Error("the entry of a file the import did not see survived")
	}
}

// An import's lookups share one read transaction (one each cost as much
// as the lookup); a commit ends it, and a lookup after it sees the
// commit.
func TestLookupsShareATransaction(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(t.TempDir(), "statcache.db")
	var paths []string
	var infos []os.FileInfo
	for i := range 50 {
		p := filepath.Join(dir, string(rune('a'+i%26))+string(rune('a'+i/26)))
		paths, infos = append(paths, p), append(infos, write(t, p, p))
	}
	c := openLater(t, db)
	for i, p := range paths {
		c.Record(p, infos[i], castore.Sum([]byte(p)))
	}
	if err := c.Commit(dir); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c = openLater(t, db)
	before := reads(c)
	for i, p := range paths {
		if d, ok := c.Lookup(p, infos[i]); !ok || d != castore.Sum([]byte(p)) {
			t.Fatalf("Lookup(%s) = %v, %v", p, d, ok)
		}
	}
	if n := reads(c) - before; n != 1 {
		t.Errorf("%d lookups began %d read transactions, want 1", len(paths), n)
	}
	// A commit of them all unchanged finds them as they are in one scan
	// of the entries below the root: none is looked up again (a Get, and
	// a cursor, each: 15,000 for GOROOT). The lookups' own are counted
	// when their transaction ends, in the commit.
	looked := cursors(c)
	if err := c.Commit(dir); err != nil {
		t.Fatal(err)
	}
	if n := cursors(c) - looked; n > int64(len(paths))+10 {
		t.Errorf("a commit of %d unchanged entries after as many lookups made %d cursors, want at most %d (one a lookup, a few the commit)", len(paths), n, len(paths)+10)
	}
	// A commit that drops all but the first: a lookup after it misses.
	c.Record(paths[0], infos[0], castore.Sum([]byte(paths[0])))
	c.mu.Lock()
	for _, p := range paths[1:] {
		k, _ := key(p)
		delete(c.seen, k)
	}
	c.mu.Unlock()
	if err := c.Commit(dir); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lookup(paths[1], infos[1]); ok {
		t.Error("a lookup after a commit that dropped the entry found it")
	}
	if _, ok := c.Lookup(paths[0], infos[0]); !ok {
		t.Error("a lookup after a commit missed the entry it kept")
	}
}

// A first import's commit of many new entries is made in key order and
// within the file's first map: it never maps the file again (which
// copies every node changed out of the old map first).
func TestLargeCommit(t *testing.T) {
	c := openLater(t, filepath.Join(t.TempDir(), "statcache.db"))
	entry := encode(stat{1, 2, 3, 4, 5}, castore.Digest{6})
	for i := range 20000 {
		c.seen[fmt.Sprintf("/src/pkg%03d/file%05d.go", i%500, i)] = entry
	}
	before := derefs(c)
	if err := c.Commit("/src"); err != nil {
		t.Fatal(err)
	}
	if n := derefs(c) - before; n != 0 {
		t.Errorf("a commit of 20,000 entries mapped the file again, copying %d nodes out of the old map", n)
	}
	c.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketFiles).Stats().KeyN; n != 20000 {
			t.Errorf("%d entries committed, want 20000", n)
		}
		return nil
	})
}

// The entries a commit puts are those that changed, in key order.
func TestChangedInKeyOrder(t *testing.T) {
	c := openLater(t, filepath.Join(t.TempDir(), "statcache.db"))
	old, changed := encode(stat{1, 2, 3, 4, 5}, castore.Digest{6}), encode(stat{1, 2, 3, 4, 6}, castore.Digest{6})
	if err := c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFiles).Put([]byte("/r/same"), old)
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string][]byte{"/r/same": old}
	var want []string
	for i := range 100 {
		k := fmt.Sprintf("/r/%03d", i)
		seen[k] = changed
		want = append(want, k)
	}
	c.db.View(func(tx *bolt.Tx) error {
		if got := changedIn(tx.Bucket(bucketFiles), seen); !slices.Equal(got, want) {
			t.Errorf("changedIn = %v, want the 100 changed in key order", got)
		}
		return nil
	})
}
