package statcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/ingest"
)

var bucketFiles = []byte("files")

// ErrInUse is wrapped by Open when another process holds the file.
var ErrInUse = errors.New("stat cache is in use by another process")

// racyWindow is how much older than the import's start a file's times must
// be for its entry to be recorded.
const racyWindow = time.Second

// Cache is a FileCache on one bbolt file.
type Cache struct {
	db    *bolt.DB
	start time.Time

	mu   sync.Mutex
	seen map[string][]byte // path -> encoded entry, to commit
	// view is the read transaction every Lookup shares, begun by the
	// first and ended by Commit and Close: a transaction per lookup cost
	// as much as the lookup (a re-import of GOROOT looks up 15,000).
	// bbolt's transactions are not safe for concurrent use: mu guards it.
	// files is its bucket.
	view  *bolt.Tx
	files *bolt.Bucket
}

var _ ingest.FileCache = (*Cache)(nil)

// initialMap is the address space the file is mapped with at first: a
// commit whose file outgrows its map maps it again, copying every node
// it changed out of the old map first (a first import of GOROOT's 15,000
// files outgrew it seven times, each map twice the last). Address space,
// not memory: pages are read in as they are used.
const initialMap = 256 << 20

// Open opens (creating if needed) the cache at path for one import that
// starts now. Another process holding the file makes it fail after a
// second with an error wrapping ErrInUse.
func Open(path string) (*Cache, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, InitialMmapSize: initialMap})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open stat cache %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketFiles)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open stat cache %s: %w", path, err)
	}
	return &Cache{db: db, start: time.Now(), seen: map[string][]byte{}}, nil
}

// Close closes the file, dropping what was not committed.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.endView()
	c.mu.Unlock()
	return c.db.Close()
}

// endView ends the lookups' read transaction, if begun: a write (and
// Close) waits for every read transaction to end. Caller holds mu.
func (c *Cache) endView() {
	if c.view != nil {
		c.view.Rollback()
		c.view, c.files = nil, nil
	}
}

// stat is the part of an lstat an entry records.
type stat struct {
	dev, ino, size uint64
	mtime, ctime   int64 // ns since the epoch
}

const entryLen = 5*8 + 32

func statOf(fi fs.FileInfo) (stat, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return stat{}, false
	}
	return stat{
		dev: uint64(st.Dev), ino: st.Ino, size: uint64(fi.Size()),
		mtime: fi.ModTime().UnixNano(), ctime: time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)).UnixNano(),
	}, true
}

func encode(s stat, d castore.Digest) []byte {
	b := make([]byte, 0, entryLen)
	b = binary.BigEndian.AppendUint64(b, s.dev)
	b = binary.BigEndian.AppendUint64(b, s.ino)
	b = binary.BigEndian.AppendUint64(b, s.size)
	b = binary.BigEndian.AppendUint64(b, uint64(s.mtime))
	b = binary.BigEndian.AppendUint64(b, uint64(s.ctime))
	return append(b, d[:]...)
}

// decode reads an entry; anything but exactly entryLen bytes is no entry.
func decode(b []byte) (stat, castore.Digest, bool) {
	if len(b) != entryLen {
		return stat{}, castore.Digest{}, false
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[8*i:]) }
	s := stat{dev: u(0), ino: u(1), size: u(2), mtime: int64(u(3)), ctime: int64(u(4))}
	var d castore.Digest
	copy(d[:], b[40:])
	return s, d, true
}

func key(path string) (string, bool) {
	abs, err := filepath.Abs(path)
	return abs, err == nil
}

// Lookup implements ingest.FileCache.
func (c *Cache) Lookup(path string, fi fs.FileInfo) (castore.Digest, bool) {
	k, ok := key(path)
	if !ok {
		return castore.Digest{}, false
	}
	want, ok := statOf(fi)
	if !ok {
		return castore.Digest{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.view == nil {
		tx, err := c.db.Begin(false)
		if err != nil {
			return castore.Digest{}, false
		}
		c.view, c.files = tx, tx.Bucket(bucketFiles)
	}
	b := c.files.Get([]byte(k))
	got, d, ok := decode(b)
	if !ok || got != want {
		return castore.Digest{}, false
	}
	c.seen[k] = append([]byte(nil), b...) // b lives only as long as the transaction
	return d, true
}

// Record implements ingest.FileCache. A file changed less than a second
// before the import started is not recorded (see the package doc).
func (c *Cache) Record(path string, fi fs.FileInfo, d castore.Digest) {
	k, ok := key(path)
	if !ok {
		return
	}
	s, ok := statOf(fi)
	if !ok {
		return
	}
	limit := c.start.Add(-racyWindow).UnixNano()
	if s.mtime >= limit || s.ctime >= limit {
		return
	}
	c.mu.Lock()
	c.seen[k] = encode(s, d)
	c.mu.Unlock()
}

// Commit replaces every entry at or below root (a path as given to the
// import) with the ones this import looked up or recorded, in one
// transaction.
func (c *Cache) Commit(root string) error {
	r, ok := key(root)
	if !ok {
		return fmt.Errorf("stat cache: cannot make %q absolute", root)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endView()
	err := c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFiles)
		changed := false
		stale, same := staleBelow(b, r, c.seen)
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
			changed = true
		}
		if same == len(c.seen) {
			// Every entry seen is stored as it is (a re-import of an
			// unchanged tree): none to look up one by one.
			return errUnchangedUnless(changed)
		}
		for _, k := range changedIn(b, c.seen) {
			if err := b.Put([]byte(k), c.seen[k]); err != nil {
				return err
			}
			changed = true
		}
		return errUnchangedUnless(changed)
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("stat cache: commit: %w", err)
	}
	clear(c.seen)
	return nil
}

// changedIn returns the keys of seen whose entries b does not hold as
// they are, in key order: put in that order, each lands after the last
// in the node the tree is growing, where puts in map order each moved
// half a node's entries to make room (a commit of 15,000 new entries
// took more than twice as long).
func changedIn(b *bolt.Bucket, seen map[string][]byte) []string {
	var keys []string
	for k, v := range seen {
		if string(b.Get([]byte(k))) != string(v) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// errUnchanged rolls back a commit that would change nothing.
var errUnchanged = errors.New("nothing changed")

// errUnchangedUnless is errUnchanged unless changed: a re-import of an
// unchanged tree writes nothing.
func errUnchangedUnless(changed bool) error {
	if !changed {
		return errUnchanged
	}
	return nil
}

// staleBelow returns the keys of the entries at or below root that seen
// does not hold as they are, and how many of seen's it found as they are.
func staleBelow(b *bolt.Bucket, root string, seen map[string][]byte) (stale [][]byte, same int) {
	look := func(k, v []byte) {
		if sv, ok := seen[string(k)]; !ok || string(sv) != string(v) {
			stale = append(stale, append([]byte(nil), k...))
		} else {
			same++
		}
	}
	if v := b.Get([]byte(root)); v != nil {
		look([]byte(root), v)
	}
	prefix := strings.TrimSuffix(root, "/") + "/"
	cur := b.Cursor()
	for k, v := cur.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = cur.Next() {
		look(k, v)
	}
	return stale, same
}
