package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/castore-go/castore/objectstore"
)

// LRU is a Store kept within a size bound, for a cache: every object read
// is marked read now (its access time, whatever the file system's atime
// policy), and a sweep removes the least recently read objects until they
// take at most 90% of the bound. A sweep runs as soon as a tenth of the
// bound has been written since the last one, so the store stays within
// about 1.1 times the bound; Sweep and SweepEvery run more. What a sweep
// removes is gone: only a cache, whose readers fall back to another store,
// may be an LRU.
type LRU struct {
	*objectstore.Portable
	l *lru
}

// lru is an LRU's side of its Portable: the store's driver, with reads
// marked and writes counted.
type lru struct {
	*driver
	max      atomic.Int64
	log      *slog.Logger
	added    atomic.Int64 // bytes written since the last sweep
	sweeping sync.Mutex
}

// NewLRU bounds s to maxBytes, sweeping it once now (a cache reopened with
// a smaller bound shrinks at once). A nil log is slog.Default(). Writes
// made through s itself afterwards are not counted towards a sweep.
func NewLRU(s *Store, maxBytes int64, log *slog.Logger) (*LRU, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("lru %s: bound %d: want a positive number of bytes", s.Root(), maxBytes)
	}
	if log == nil {
		log = slog.Default()
	}
	l := &lru{driver: s.f, log: log}
	l.max.Store(maxBytes)
	c := &LRU{objectstore.NewPortable(l), l}
	if _, _, err := c.Sweep(); err != nil {
		return nil, err
	}
	return c, nil
}

// Root returns the store's directory.
func (s *LRU) Root() string { return s.l.root }

// SetMax changes the bound; the next sweep applies it.
func (s *LRU) SetMax(maxBytes int64) { s.l.max.Store(maxBytes) }

// Put stores the object and counts it towards the next sweep.
func (s *lru) Put(ctx context.Context, key string, r io.Reader) error {
	cr := &countingReader{r: r}
	err := s.driver.Put(ctx, key, cr)
	if err == nil {
		s.grew(cr.n)
	}
	return err
}

// PutIfAbsent stores the object if absent and counts it towards the next
// sweep.
func (s *lru) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	cr := &countingReader{r: r}
	created, err := s.driver.PutIfAbsent(ctx, key, cr)
	if created {
		s.grew(cr.n)
	}
	return created, err
}

// Get opens the object and marks it read now.
func (s *lru) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.driver.Get(ctx, key)
	if err == nil {
		os.Chtimes(filepath.Join(s.root, filepath.FromSlash(key)), time.Now(), time.Time{})
	}
	return r, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// grew notes n bytes written, and sweeps once a tenth of the bound has
// been written since the last sweep (unless one is running).
func (s *lru) grew(n int64) {
	if s.added.Add(n) < s.max.Load()/10 || !s.sweeping.TryLock() {
		return
	}
	defer s.sweeping.Unlock()
	if _, _, err := s.sweep(); err != nil {
		s.log.Warn("cache sweep failed", "dir", s.root, "err", err)
	}
}

// SweepEvery sweeps every period until ctx ends.
func (s *LRU) SweepEvery(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, _, err := s.Sweep(); err != nil {
				s.l.log.Warn("cache sweep failed", "dir", s.Root(), "err", err)
			}
		}
	}
}

// Sweep removes objects, least recently read first, until they take at
// most 90% of the bound; it does nothing while they fit in it. Files being
// written (named "...#digits") are left alone.
func (s *LRU) Sweep() (removed int, freed int64, err error) {
	s.l.sweeping.Lock()
	defer s.l.sweeping.Unlock()
	return s.l.sweep()
}

func (s *lru) sweep() (removed int, freed int64, err error) {
	s.added.Store(0)
	max := s.max.Load()
	type file struct {
		path  string
		size  int64
		atime time.Time
	}
	var files []file
	var total int64
	err = filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed under us
			}
			return err
		}
		if !d.Type().IsRegular() || strings.Contains(d.Name(), "#") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		files = append(files, file{p, fi.Size(), atime(fi)})
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("cache sweep: %w", err)
	}
	if total <= max {
		return 0, 0, nil
	}
	sort.Slice(files, func(i, j int) bool { return files[i].atime.Before(files[j].atime) })
	target := max / 10 * 9
	for _, f := range files {
		if total <= target {
			break
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, freed, fmt.Errorf("cache sweep: %w", err)
		}
		total -= f.size
		freed += f.size
		removed++
	}
	s.log.Info("cache sweep", "dir", s.root, "evicted_files", removed, "evicted_bytes", freed, "kept_bytes", total)
	return removed, freed, nil
}
