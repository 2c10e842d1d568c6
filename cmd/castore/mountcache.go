package main

import (
	"bytes"
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

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/objectstore"
)

// mountCache is the local near cache of a mount, in one directory:
//
//	blobs/           chunks and blob indexes, in the chunked store's layout
//	directories.db   directories (embedded store)
//
// Blobs are read through it chunk by chunk (chunkstore.NearFar); the blob
// files are bounded by a size, evicting the least recently read first.
// Directories are small: they are kept until their file outgrows a tenth
// of that bound (at least 16 MiB), and the next mount then starts them
// afresh.
type mountCache struct {
	dir   string
	max   int64
	log   *slog.Logger
	files *objectstore.File
	near  *chunkstore.Chunked
	db    *dirstore.Embedded
	blobs castore.BlobService
	dirs  castore.DirectoryService

	// added counts the bytes of blob files written since the last sweep;
	// past a tenth of max the write that crosses it sweeps, so the cache
	// stays within about 1.1 x max between the periodic sweeps too.
	added    atomic.Int64
	sweeping sync.Mutex
}

func openMountCache(dir string, max int64, far castore.BlobService, farDirs castore.DirectoryService, log *slog.Logger) (*mountCache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	// A cache needs no fsync: a chunk torn by a crash fails its digest
	// check and is read from far again.
	files, err := objectstore.NewFile(filepath.Join(abs, "blobs"), &objectstore.FileOptions{Sync: objectstore.SyncNone})
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	c := &mountCache{dir: abs, max: max, log: log, files: files}
	// No memory of stored chunks: eviction deletes them behind its back.
	near, err := chunkstore.NewChunked(touchingStore{File: files, grew: c.grew}, chunkstore.ChunkedOptions{KnownChunks: 1})
	if err != nil {
		files.Close()
		return nil, err
	}
	nf, err := chunkstore.NewNearFar(near, indexingFar{far, files, log}, chunkstore.NearFarOptions{Logger: log})
	if err != nil {
		near.Close()
		return nil, err
	}
	db, err := openDirCache(filepath.Join(abs, "directories.db"), dirCacheBound(max), log)
	if err != nil {
		near.Close()
		return nil, fmt.Errorf("%w (is another 'castore mount' using the cache dir %s? give each its own --cache-dir)", err, abs)
	}
	c.near, c.db, c.blobs, c.dirs = near, db, nf, dirstore.NewCache(db, farDirs)
	if _, _, err := c.sweep(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dirCacheBound is the size past which a mount empties the directory
// cache of a blob cache bounded by blobBound.
func dirCacheBound(blobBound int64) int64 { return max(blobBound/10, 16<<20) }

// openDirCache opens the directory cache at path, starting it afresh if
// its file is larger than bound. The file's lock, taken by opening it,
// says no other mount uses it.
func openDirCache(path string, bound int64, log *slog.Logger) (*dirstore.Embedded, error) {
	db, err := dirstore.OpenEmbedded(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= bound {
		return db, nil
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("directory cache: %w", err)
	}
	log.Info("directory cache outgrew its bound; starting it afresh", "path", path, "size", fi.Size(), "bound", bound)
	return dirstore.OpenEmbedded(path)
}

func (c *mountCache) Close() error {
	return errors.Join(c.near.Close(), c.db.Close())
}

// sweepEvery sweeps the cache every period until ctx ends.
func (c *mountCache) sweepEvery(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.sweeping.Lock()
			if _, _, err := c.sweep(); err != nil {
				c.log.Warn("cache sweep failed", "dir", c.dir, "err", err)
			}
			c.sweeping.Unlock()
		}
	}
}

// grew notes n bytes written into the cache, and sweeps once a tenth of
// the bound has been written since the last sweep (unless one is running).
func (c *mountCache) grew(n int64) {
	if c.added.Add(n) < c.max/10 || !c.sweeping.TryLock() {
		return
	}
	defer c.sweeping.Unlock()
	if _, _, err := c.sweep(); err != nil {
		c.log.Warn("cache sweep failed", "dir", c.dir, "err", err)
	}
}

// sweep evicts blob files, least recently read first, until they take at
// most 90% of the bound; it does nothing while they fit in it. Files being
// written (named "...#digits") are left alone. Callers other than
// openMountCache hold c.sweeping.
func (c *mountCache) sweep() (removed int, freed int64, err error) {
	c.added.Store(0)
	type file struct {
		path  string
		size  int64
		atime time.Time
	}
	var files []file
	var total int64
	err = filepath.WalkDir(c.files.Root(), func(p string, d fs.DirEntry, err error) error {
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
	if total <= c.max {
		return 0, 0, nil
	}
	sort.Slice(files, func(i, j int) bool { return files[i].atime.Before(files[j].atime) })
	target := c.max / 10 * 9
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
	c.log.Info("cache sweep", "dir", c.dir, "evicted_files", removed, "evicted_bytes", freed, "kept_bytes", total)
	return removed, freed, nil
}

// indexingFar is far as NearFar sees it: when NearFar asks far for a
// blob's chunks (because near has no index for it), the index is written
// into near at once, not only once one reader has read every chunk (with
// the kernel's page cache in between, no single open may ever read them
// all). Until the chunks arrive, near's index names chunks it lacks,
// exactly as after an eviction; NearFar reads those from far.
type indexingFar struct {
	castore.BlobService
	near objectstore.Store
	log  *slog.Logger
}

func (f indexingFar) Chunks(ctx context.Context, d castore.Digest) ([]castore.ChunkMeta, error) {
	chunks, err := f.BlobService.Chunks(ctx, d)
	if err == nil && len(chunks) > 1 {
		if _, err := f.near.PutIfAbsent(ctx, chunkstore.IndexKey(d), bytes.NewReader(chunkstore.EncodeIndex(chunks))); err != nil {
			f.log.Warn("cache cannot take a blob index", "blob", d.String(), "err", err)
		}
	}
	return chunks, err
}

// ReadCompressedChunk passes far's chunks on as far stores them, if far
// can: near keeps them so, without compressing them again.
func (f indexingFar) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	cr, ok := f.BlobService.(chunkstore.CompressedChunkReader)
	if !ok {
		return nil, fmt.Errorf("chunk %s: far hands over no compressed chunks: %w", d, errors.ErrUnsupported)
	}
	return cr.ReadCompressedChunk(ctx, d)
}

// touchingStore marks every object it hands out as read now (its access
// time), whatever the file system's atime policy, so that eviction is
// least-recently-read first, and tells grew the size of every object it
// adds.
type touchingStore struct {
	*objectstore.File
	grew func(n int64)
}

func (s touchingStore) Put(ctx context.Context, key string, r io.Reader) error {
	cr := &countingReader{r: r}
	err := s.File.Put(ctx, key, cr)
	if err == nil {
		s.grew(cr.n)
	}
	return err
}

func (s touchingStore) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	cr := &countingReader{r: r}
	created, err := s.File.PutIfAbsent(ctx, key, cr)
	if created {
		s.grew(cr.n)
	}
	return created, err
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

func (s touchingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.File.Get(ctx, key)
	if err == nil {
		os.Chtimes(filepath.Join(s.Root(), filepath.FromSlash(key)), time.Now(), time.Time{})
	}
	return r, err
}
