package compose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/objectstore/packstore"
)

// LocalCacheParams: a near cache on local disk in front of far, as a
// workstation's mount keeps one (type local_cache, for blobs and for
// directories). Blobs go into pack files in PATH/packs, kept within
// max_bytes; directories into PATH/directories.db, started afresh once
// the file outgrows a tenth of max_bytes (at least 16 MiB). Nothing is
// synced: a torn or lost entry is a miss.
type LocalCacheParams struct {
	Path     string `yaml:"path"`
	MaxBytes int64  `yaml:"max_bytes"`
	Far      string `yaml:"far"`
}

func (p *LocalCacheParams) Refs() []string { return []string{p.Far} }

// DefaultLocalCacheBytes bounds a local cache whose max_bytes is 0.
const DefaultLocalCacheBytes = 10 << 30

func (p *LocalCacheParams) check() (string, int64, error) {
	if p.Path == "" {
		return "", 0, fmt.Errorf("path is required")
	}
	if p.Far == "" {
		return "", 0, fmt.Errorf("far is required")
	}
	if err := checkMaxBytes(p.MaxBytes); err != nil {
		return "", 0, err
	}
	abs, err := filepath.Abs(p.Path)
	if err != nil {
		return "", 0, err
	}
	max := p.MaxBytes
	if max == 0 {
		max = DefaultLocalCacheBytes
	}
	return abs, max, nil
}

func registerLocalCache(r *Registry) {
	RegisterBlobService(r, "local_cache", func(ctx context.Context, c *Composition, p *LocalCacheParams) (castore.BlobService, error) {
		dir, max, err := p.check()
		if err != nil {
			return nil, err
		}
		far, err := c.BlobService(ctx, p.Far)
		if err != nil {
			return nil, err
		}
		return OpenLocalBlobCache(dir, max, far, slog.Default())
	})
	RegisterDirectoryService(r, "local_cache", func(ctx context.Context, c *Composition, p *LocalCacheParams) (castore.DirectoryService, error) {
		dir, max, err := p.check()
		if err != nil {
			return nil, err
		}
		far, err := c.DirectoryService(ctx, p.Far)
		if err != nil {
			return nil, err
		}
		return OpenLocalDirCache(dir, max, far, slog.Default())
	})
}

// LocalBlobCache is the blob half of a local cache: a near/far cache
// whose near is chunked blobs in bounded pack files.
type LocalBlobCache struct {
	*chunkstore.NearFar
	// Packs is the near store, for tests and for its size.
	Packs *packstore.Store
	near  *chunkstore.Chunked
}

// OpenLocalBlobCache opens the blob cache in dir/packs in front of far.
// A dir/blobs of an older castore (one file per chunk) is removed.
func OpenLocalBlobCache(dir string, max int64, far castore.BlobService, log *slog.Logger) (*LocalBlobCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	if old := filepath.Join(dir, "blobs"); isDir(old) {
		log.Info("removing the cache of an older castore (one file per chunk)", "path", old)
		if err := os.RemoveAll(old); err != nil {
			return nil, fmt.Errorf("cache dir: %w", err)
		}
	}
	packs, err := packstore.Open(filepath.Join(dir, "packs"), packstore.Options{NoSync: true, MaxBytes: max, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w (is another process using the cache dir %s? give each its own)", err, dir)
	}
	// No memory of stored chunks: eviction drops them behind its back.
	near, err := chunkstore.NewChunked(packs, chunkstore.ChunkedOptions{KnownChunks: 1})
	if err != nil {
		packs.Close()
		return nil, err
	}
	nf, err := chunkstore.NewNearFar(near, chunkstore.NewIndexingFar(far, packs, log), chunkstore.NearFarOptions{Logger: log, Name: "local cache " + dir})
	if err != nil {
		near.Close()
		return nil, err
	}
	return &LocalBlobCache{NearFar: nf, Packs: packs, near: near}, nil
}

// Close closes the pack files.
func (c *LocalBlobCache) Close() error { return c.near.Close() }

// LocalDirCache is the directory half of a local cache.
type LocalDirCache struct {
	*dirstore.Cache
	// DB is the near store.
	DB *dirstore.Embedded
}

// OpenLocalDirCache opens the directory cache dir/directories.db in front
// of far, starting it afresh if its file has outgrown
// LocalDirCacheBound(max).
func OpenLocalDirCache(dir string, max int64, far castore.DirectoryService, log *slog.Logger) (*LocalDirCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	db, err := openDirCache(filepath.Join(dir, "directories.db"), LocalDirCacheBound(max), log)
	if err != nil {
		return nil, fmt.Errorf("%w (is another process using the cache dir %s? give each its own)", err, dir)
	}
	return &LocalDirCache{Cache: dirstore.NewCache(db, far), DB: db}, nil
}

// Close closes the directory database.
func (c *LocalDirCache) Close() error { return c.DB.Close() }

// LocalDirCacheBound is the size past which a local cache bounded by
// blobBound empties its directory cache.
func LocalDirCacheBound(blobBound int64) int64 { return max(blobBound/10, 16<<20) }

// openDirCache opens the directory cache at path, starting it afresh if
// its file is larger than bound. The file's lock, taken by opening it,
// says no other process uses it.
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

// LocalCache is both halves, as a mount opens them in one directory.
type LocalCache struct {
	Blobs *LocalBlobCache
	Dirs  *LocalDirCache
}

// OpenLocalCache opens a local cache in dir in front of far and farDirs.
func OpenLocalCache(dir string, max int64, far castore.BlobService, farDirs castore.DirectoryService, log *slog.Logger) (*LocalCache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b, err := OpenLocalBlobCache(abs, max, far, log)
	if err != nil {
		return nil, err
	}
	d, err := OpenLocalDirCache(abs, max, farDirs, log)
	if err != nil {
		b.Close()
		return nil, err
	}
	return &LocalCache{Blobs: b, Dirs: d}, nil
}

// Close closes both halves.
func (c *LocalCache) Close() error { return errors.Join(c.Blobs.Close(), c.Dirs.Close()) }

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
