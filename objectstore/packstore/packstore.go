package packstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
)

// Options tune a Store. The zero value is a durable store without a bound.
type Options struct {
	// NoSync acknowledges a Put once its bytes are written, without
	// waiting for the disk: for caches, where a torn or lost object is
	// only a miss. By default every acknowledged Put is on disk (one
	// fdatasync per round, shared by every writer waiting).
	NoSync bool
	// MaxBytes, if positive, makes the store a cache kept within about
	// that many bytes: beyond it the oldest pack is dropped whole, and an
	// object read from the older half of the packs is first written
	// again at the head, so what is read often stays.
	MaxBytes int64
	// PackSize is the size at which a pack is sealed and a new one begun
	// (default 64 MiB; for a cache, an eighth of MaxBytes up to that).
	PackSize int64
	// Logger gets a warning for each torn tail cut off when the store
	// opens. Default slog.Default().
	Logger *slog.Logger
}

// DefaultPackSize is the size at which a pack is sealed.
const DefaultPackSize = 64 << 20

// maxValue is the largest object a record can hold.
const maxValue = math.MaxUint32

// loc is where an object's value lies.
type loc struct {
	pack uint32
	off  int64
	n    uint32
}

// pack is one pack file.
type pack struct {
	id   uint32
	f    *os.File
	size int64
	// entries are the records written to it, for its trailer when sealed;
	// nil for packs opened sealed.
	entries []trailerEntry
	// written is how far records are written (size, for the syncer);
	// synced how far they are on disk, and failed the error of a sync of
	// it that failed, which every later wait returns (a second fsync may
	// succeed though what the first failed to write is lost); both
	// guarded by the syncer's lock.
	written atomic.Int64
	synced  int64
	failed  error
	// modified is when the pack was last written (Unix nanoseconds): the
	// modification time of every object in it (touch.go).
	modified atomic.Int64
}

// Store is an objectstore.Store that appends objects to pack files in
// one directory and keeps an index of them in memory; see the package
// documentation for the format and the guarantees.
type Store struct {
	*objectstore.Portable
	d *driver
}

// Size is the bytes the packs take on disk.
func (s *Store) Size() int64 { return s.d.Size() }

// driver is the store's side of its Portable: keys and contexts are
// checked before they reach it.
type driver struct {
	dir  string
	o    Options
	lock *os.File

	mu    sync.RWMutex
	index map[string]loc
	// writing holds the keys of PutIfAbsents on their way to the disk; a
	// second one for the same key waits for the first.
	writing map[string]chan struct{}
	packs   map[uint32]*pack
	cur     *pack
	total   int64 // bytes in all packs
	closed  bool
	// syncing holds the sealed packs whose sync, begun when they were
	// sealed, has not finished (sealFull): Sync and Close wait for them.
	syncing []*pack

	sync syncer
}

var _ objectstore.Store = (*Store)(nil)
var _ objectstore.Store = (*driver)(nil)

// Open opens (creating it if needed) the store in dir. Only one process
// may have it open: another gets an error saying the store is in use.
func Open(dir string, o Options) (*Store, error) {
	if o.PackSize <= 0 {
		o.PackSize = DefaultPackSize
		if o.MaxBytes > 0 {
			// A cache drops whole packs: an eighth of its bound each
			// keeps it close to the bound.
			o.PackSize = min(max(o.MaxBytes/8, 64<<10), DefaultPackSize)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("pack store %s is in use by another process", dir)
		}
		return nil, fmt.Errorf("pack store %s: lock: %w", dir, err)
	}
	s := &driver{dir: dir, o: o, lock: lock, index: map[string]loc{}, writing: map[string]chan struct{}{}, packs: map[uint32]*pack{}}
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return &Store{Portable: objectstore.NewPortable(s), d: s}, nil
}

// packName is the file name of pack id.
func packName(id uint32) string { return fmt.Sprintf("%08d.pack", id) }

// load reads every pack: a sealed one's trailer, an unsealed one record
// by record (checking each), cutting off a torn tail.
func (s *driver) load() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var ids []uint32
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".pack")
		if !ok {
			continue
		}
		id, err := strconv.ParseUint(name, 10, 32)
		if err != nil {
			continue
		}
		ids = append(ids, uint32(id))
	}
	slices.Sort(ids)
	var next uint32 = 1
	for _, id := range ids {
		f, err := os.OpenFile(filepath.Join(s.dir, packName(id)), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		p := &pack{id: id, f: f}
		s.packs[id] = p
		if fi, err := f.Stat(); err == nil {
			p.modified.Store(fi.ModTime().UnixNano())
		}
		entries, size, sealed, err := readTrailer(f)
		if err != nil {
			return fmt.Errorf("pack %s: %w", f.Name(), err)
		}
		if !sealed {
			if entries, size, err = s.scan(f); err != nil {
				return fmt.Errorf("pack %s: %w", f.Name(), err)
			}
			// Seal it now: it is never appended to again.
			p.size, p.entries = size, entries
			if err := s.seal(p); err != nil {
				return err
			}
		} else {
			p.size = size
		}
		for _, e := range entries {
			s.apply(id, e)
		}
		s.total += p.size
		next = id + 1
	}
	return s.newPack(next)
}

// apply records e of pack id in the index.
func (s *driver) apply(id uint32, e trailerEntry) {
	if e.kind == kindDelete {
		delete(s.index, e.key)
		return
	}
	s.index[e.key] = loc{pack: id, off: e.off, n: e.n}
}

// scan reads an unsealed pack record by record, checking each, and
// truncates it after the last good one.
func (s *driver) scan(f *os.File) ([]trailerEntry, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	r := &countingReader{r: bufioReader(f)}
	var entries []trailerEntry
	var good int64
	for {
		e, err := readRecord(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			s.o.Logger.Warn("pack store: cutting off a torn tail", "pack", f.Name(), "at", good, "lost_bytes", fi.Size()-good, "err", err)
			break
		}
		e.off += good
		entries = append(entries, e)
		good = r.n
	}
	if good != fi.Size() {
		if err := f.Truncate(good); err != nil {
			return nil, 0, err
		}
	}
	return entries, good, nil
}

// newPack starts pack id as the one appended to.
func (s *driver) newPack(id uint32) error {
	f, err := os.OpenFile(filepath.Join(s.dir, packName(id)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	p := &pack{id: id, f: f}
	p.touch()
	s.packs[id] = p
	s.cur = p
	if !s.o.NoSync {
		if err := syncDir(s.dir); err != nil {
			return err
		}
	}
	return nil
}

// seal appends pack p's trailer and syncs it. Caller holds mu (or is
// load).
func (s *driver) seal(p *pack) error {
	if err := writeTrailer(p); err != nil {
		return err
	}
	if s.o.NoSync {
		return nil
	}
	if err := p.f.Sync(); err != nil {
		return err
	}
	s.sync.markSynced(p, p.size)
	return nil
}

// writeTrailer appends pack p's trailer: it is appended to no more.
func writeTrailer(p *pack) error {
	t := encodeTrailer(p.entries, p.size)
	if _, err := p.f.WriteAt(t, p.size); err != nil {
		return err
	}
	p.size += int64(len(t))
	p.written.Store(p.size)
	p.entries = nil
	return nil
}

// sealFull seals the current pack, which is full, and starts the next;
// the sealed one is synced in the background, not under mu: an fsync of
// 64 MiB took 50-70 ms, during which every writer and reader of the store
// waited (an import of 400 MB stood still for a third of a second). A
// writer waiting for a record of it to be on disk shares that sync
// (syncer); Sync and Close wait for it. Its trailer need not be on disk
// before the next pack is used: a pack without a valid trailer is read
// record by record when the store opens. Caller holds mu.
func (s *driver) sealFull() error {
	p := s.cur
	if err := writeTrailer(p); err != nil {
		return err
	}
	s.total += p.size
	if err := s.newPack(p.id + 1); err != nil {
		return err
	}
	if !s.o.NoSync {
		s.syncing = append(s.syncing, p)
		go s.syncSealed(p)
	}
	return nil
}

// syncSealed syncs sealed pack p whole and then no longer counts it as
// syncing; a failure stays with p (its waiters, and Sync, get it)
// unless p was dropped meanwhile.
func (s *driver) syncSealed(p *pack) {
	err := s.sync.wait(p, p.written.Load())
	s.mu.Lock()
	if err == nil || s.packs[p.id] != p {
		s.syncing = slices.DeleteFunc(s.syncing, func(q *pack) bool { return q == p })
	}
	s.mu.Unlock()
}

// waitSealed returns once the sealed packs still syncing are on disk, or
// with the first failure. A pack dropped meanwhile (evicted, compacted)
// has nothing left to keep. Caller holds no lock.
func (s *driver) waitSealed(ps []*pack) error {
	for _, p := range ps {
		s.mu.RLock()
		live := s.packs[p.id] == p
		s.mu.RUnlock()
		if !live {
			continue
		}
		if err := s.sync.wait(p, p.written.Load()); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the object's bytes.
func (s *driver) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	data, err := s.read(key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (s *driver) readOnce(key string) ([]byte, error) {
	s.mu.RLock()
	l, ok := s.index[key]
	var p *pack
	if ok {
		p = s.packs[l.pack]
	}
	old := ok && s.o.MaxBytes > 0 && s.inOlderHalf(l.pack)
	s.mu.RUnlock()
	if !ok || p == nil {
		return nil, fmt.Errorf("get %q: %w", key, objectstore.ErrNotFound)
	}
	data := make([]byte, l.n)
	if _, err := p.f.ReadAt(data, l.off); err != nil {
		if errors.Is(err, os.ErrClosed) {
			// Evicted (a miss) or compacted (read again) meanwhile.
			return nil, errPackGone
		}
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	if old {
		// Read from a pack due for eviction: keep it by writing it again.
		s.append(context.Background(), key, encodeRecord(kindPut, key, data), true)
	}
	return data, nil
}

// inOlderHalf reports whether pack id is among the older half of the
// packs. Caller holds mu.
func (s *driver) inOlderHalf(id uint32) bool {
	first := s.cur.id
	for pid := range s.packs {
		first = min(first, pid)
	}
	span := s.cur.id - first + 1
	return id < first+max(span/2, 1) && id != s.cur.id
}

// Put stores r's bytes under key.
func (s *driver) Put(ctx context.Context, key string, r io.Reader) error {
	rec, err := s.readValue(ctx, key, r)
	if err != nil {
		return err
	}
	_, err = s.append(ctx, key, rec, true)
	return err
}

// PutIfAbsent stores r's bytes under key unless an object is there.
func (s *driver) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	s.mu.RLock()
	l, ok := s.index[key]
	p := s.packs[l.pack]
	s.mu.RUnlock()
	if ok {
		return false, s.durable(ctx, key, p, l)
	}
	rec, err := s.readValue(ctx, key, r)
	if err != nil {
		return false, err
	}
	return s.append(ctx, key, rec, false)
}

// readValue reads a Put's bytes whole, into the record of the put,
// before anything is written: a reader that fails, or a context done
// meanwhile, leaves nothing.
func (s *driver) readValue(ctx context.Context, key string, r io.Reader) ([]byte, error) {
	if len(key) > math.MaxUint16 {
		return nil, fmt.Errorf("put %q: key too long", key)
	}
	rec, err := readPutRecord(key, r)
	if err != nil {
		return nil, fmt.Errorf("put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rec, nil
}

// append writes record rec (of a put of key) and, unless NoSync or the write is
// deferred (castore.DeferSync), waits until it is on disk; only then is
// it in the index. With replace false an object already there wins (and
// nothing is written; a caller that does not defer waits for that
// object's sync, see durable).
func (s *driver) append(ctx context.Context, key string, rec []byte, replace bool) (bool, error) {
	s.mu.Lock()
	for !replace {
		if l, ok := s.index[key]; ok {
			p := s.packs[l.pack]
			s.mu.Unlock()
			return false, s.durable(ctx, key, p, l)
		}
		ch, ok := s.writing[key]
		if !ok {
			ch = make(chan struct{})
			s.writing[key] = ch
			defer func() {
				s.mu.Lock()
				delete(s.writing, key)
				close(ch)
				s.mu.Unlock()
			}()
			break
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		s.mu.Lock()
	}
	if s.closed {
		s.mu.Unlock()
		return false, fmt.Errorf("put %q: store closed", key)
	}
	p, off, err := s.write(rec)
	if err != nil {
		s.mu.Unlock()
		return false, fmt.Errorf("put %q: %w", key, err)
	}
	e := trailerEntry{kind: kindPut, key: key, off: off + recordHeader + int64(len(key)), n: uint32(len(rec) - recordHeader - len(key))}
	p.entries = append(p.entries, e)
	end := off + int64(len(rec))
	s.mu.Unlock()
	if !s.o.NoSync && !castore.SyncDeferred(ctx) {
		if err := s.sync.wait(p, end); err != nil {
			return false, fmt.Errorf("put %q: sync: %w", key, err)
		}
	}
	s.mu.Lock()
	// The index follows the packs' order, as a reload would: a Put of the
	// same key written later wins; with replace false, any object wins.
	nl := loc{pack: p.id, off: e.off, n: e.n}
	if cur, ok := s.index[key]; !ok || (replace && (cur.pack < nl.pack || cur.pack == nl.pack && cur.off < nl.off)) {
		s.index[key] = nl
	}
	s.evictLocked()
	s.mu.Unlock()
	return true, nil
}

// durable returns once the object at l (in pack p) is on disk, for a
// PutIfAbsent that found it: a deferred write of it may not be yet, and
// a caller that does not defer is told it is stored only once it is.
func (s *driver) durable(ctx context.Context, key string, p *pack, l loc) error {
	if s.o.NoSync || castore.SyncDeferred(ctx) || p == nil {
		return nil
	}
	if err := s.sync.wait(p, l.off+int64(l.n)); err != nil {
		return fmt.Errorf("put %q: sync: %w", key, err)
	}
	return nil
}

// Sync returns once every write made before it is on disk: the deferred
// ones (castore.DeferSync) are in the current pack and in the sealed
// packs still syncing (sealFull).
func (s *driver) Sync(ctx context.Context) error {
	if s.o.NoSync {
		return nil
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errors.New("sync: store closed")
	}
	p := s.cur
	end := p.written.Load()
	sealed := slices.Clone(s.syncing)
	s.mu.RUnlock()
	if err := s.waitSealed(sealed); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := s.sync.wait(p, end); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// write appends rec to the current pack, sealing it and starting another
// when it is full. Caller holds mu.
func (s *driver) write(rec []byte) (*pack, int64, error) {
	if s.cur.size > 0 && s.cur.size+int64(len(rec)) > s.o.PackSize {
		if err := s.sealFull(); err != nil {
			return nil, 0, err
		}
	}
	p := s.cur
	off := p.size
	if _, err := p.f.WriteAt(rec, off); err != nil {
		// Cut off whatever part of it was written.
		p.f.Truncate(off)
		return nil, 0, err
	}
	p.size += int64(len(rec))
	p.written.Store(p.size)
	p.touch()
	return p, off, nil
}

// evictLocked drops the oldest sealed packs while the store is over its
// bound. Caller holds mu.
func (s *driver) evictLocked() {
	if s.o.MaxBytes <= 0 {
		return
	}
	for s.total+s.cur.size > s.o.MaxBytes {
		oldest := s.cur.id
		for id := range s.packs {
			oldest = min(oldest, id)
		}
		if oldest == s.cur.id {
			return
		}
		p := s.packs[oldest]
		for k, l := range s.index {
			if l.pack == oldest {
				delete(s.index, k)
			}
		}
		delete(s.packs, oldest)
		s.total -= p.size
		p.f.Close()
		os.Remove(p.f.Name())
	}
}

// Head returns the object's size and its pack's modification time.
func (s *driver) Head(ctx context.Context, key string) (objectstore.ObjectInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.index[key]
	if !ok {
		return objectstore.ObjectInfo{}, fmt.Errorf("head %q: %w", key, objectstore.ErrNotFound)
	}
	return objectstore.ObjectInfo{Key: key, Size: int64(l.n), ModTime: s.modTime(l)}, nil
}

var _ objectstore.IndexedHeads = (*driver)(nil)

// HeadsIndexed reports that Head is answered from the index in memory,
// with no read of a pack.
func (s *driver) HeadsIndexed() bool { return true }

// Delete removes the object: a tombstone record, durable like a Put.
func (s *driver) Delete(ctx context.Context, key string) error {
	rec := encodeRecord(kindDelete, key, nil)
	s.mu.Lock()
	if _, ok := s.index[key]; !ok {
		s.mu.Unlock()
		return fmt.Errorf("delete %q: %w", key, objectstore.ErrNotFound)
	}
	p, off, err := s.write(rec)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("delete %q: %w", key, err)
	}
	p.entries = append(p.entries, trailerEntry{kind: kindDelete, key: key})
	delete(s.index, key)
	s.mu.Unlock()
	if !s.o.NoSync {
		return s.sync.wait(p, off+int64(len(rec)))
	}
	return nil
}

// List yields the objects under prefix in key order.
func (s *driver) List(ctx context.Context, prefix string) iter.Seq2[objectstore.ObjectInfo, error] {
	return func(yield func(objectstore.ObjectInfo, error) bool) {
		s.mu.RLock()
		var infos []objectstore.ObjectInfo
		for k, l := range s.index {
			if strings.HasPrefix(k, prefix) {
				infos = append(infos, objectstore.ObjectInfo{Key: k, Size: int64(l.n), ModTime: s.modTime(l)})
			}
		}
		s.mu.RUnlock()
		sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				yield(objectstore.ObjectInfo{}, err)
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// Size is the bytes the packs take on disk.
func (s *driver) Size() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.total + s.cur.size
}

// Close seals the current pack and releases the files.
func (s *driver) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	if s.cur.size > 0 {
		err = s.seal(s.cur)
	} else {
		// An empty pack: nothing to keep.
		s.cur.f.Close()
		os.Remove(s.cur.f.Name())
		delete(s.packs, s.cur.id)
	}
	sealed := slices.Clone(s.syncing)
	s.mu.Unlock()
	// The sealed packs still syncing are on disk before their files close.
	if werr := s.waitSealed(sealed); werr != nil {
		err = errors.Join(err, fmt.Errorf("sync: %w", werr))
	}
	return errors.Join(err, s.closeFiles())
}

func (s *driver) closeFiles() error {
	var errs []error
	for _, p := range s.packs {
		errs = append(errs, p.f.Close())
	}
	errs = append(errs, s.lock.Close())
	return errors.Join(errs...)
}

// syncDir makes a new file's name durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
