package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/packstore"
)

// mountCache is the local near cache of a mount, in one directory:
//
//	packs/           chunks and blob indexes, appended to pack files
//	                 (objectstore/packstore), within the size bound
//	directories.db   directories (embedded store)
//
// Blobs are read through it chunk by chunk (chunkstore.NearFar); beyond
// the bound the oldest pack is dropped, and what is read from the oldest
// ones is written again first, so what is read often stays. Nothing is
// synced: a torn or lost entry is a miss. Directories are small: they are
// kept until their file outgrows a tenth of that bound (at least 16 MiB),
// and the next mount then starts them afresh.
type mountCache struct {
	packs *packstore.Store
	near  *chunkstore.Chunked
	db    *dirstore.Embedded
	blobs castore.BlobService
	dirs  castore.DirectoryService
}

func openMountCache(dir string, max int64, far castore.BlobService, farDirs castore.DirectoryService, log *slog.Logger) (*mountCache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	// Versions before pack files kept one file per chunk in blobs/: it is
	// only a cache, so it goes.
	if old := filepath.Join(abs, "blobs"); dirExists(old) {
		log.Info("removing the cache of an older castore (one file per chunk)", "path", old)
		if err := os.RemoveAll(old); err != nil {
			return nil, fmt.Errorf("cache dir: %w", err)
		}
	}
	packs, err := packstore.Open(filepath.Join(abs, "packs"), packstore.Options{NoSync: true, MaxBytes: max, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w (is another 'castore mount' using the cache dir %s? give each its own --cache-dir)", err, abs)
	}
	c := &mountCache{packs: packs}
	// No memory of stored chunks: eviction drops them behind its back.
	near, err := chunkstore.NewChunked(packs, chunkstore.ChunkedOptions{KnownChunks: 1})
	if err != nil {
		packs.Close()
		return nil, err
	}
	nf, err := chunkstore.NewNearFar(near, indexingFar{far, packs, log}, chunkstore.NearFarOptions{Logger: log})
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
	return c, nil
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
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
		if _, err := f.near.PutIfAbsent(ctx, chunkfmt.IndexKey(d), bytes.NewReader(chunkfmt.EncodeIndex(chunks))); err != nil {
			f.log.Warn("cache cannot take a blob index", "blob", d.String(), "err", err)
		}
	}
	return chunks, err
}

var (
	_ castore.CompressedChunkReader = indexingFar{}
	_ castore.CompressedChunkWriter = indexingFar{}
	_ castore.IndexPutter           = indexingFar{}
	_ castore.ChunkReaderService    = indexingFar{}
	_ castore.ChunkUploader         = indexingFar{}
	_ castore.MissingFinder         = indexingFar{}
)

func (f indexingFar) Missing(ctx context.Context, ds []castore.Digest) ([]castore.Digest, error) {
	return castore.Missing(ctx, f.BlobService, ds)
}

func (f indexingFar) CreateChunked(ctx context.Context) (castore.BlobWriter, error) {
	return castore.CreateChunked(ctx, f.BlobService)
}

// ReadCompressedChunk passes far's chunks on as far stores them, if far
// can: near keeps them so, without compressing them again. The other
// capabilities are far's too.
func (f indexingFar) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	return castore.ReadCompressedChunk(ctx, f.BlobService, d)
}

func (f indexingFar) PutCompressedChunk(ctx context.Context, d castore.Digest, comp []byte) error {
	return castore.PutCompressedChunk(ctx, f.BlobService, d, comp)
}

func (f indexingFar) PutIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta) error {
	return castore.PutIndex(ctx, f.BlobService, d, chunks)
}

func (f indexingFar) ReadChunk(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
	return castore.ReadChunk(ctx, f.BlobService, cm)
}

// ReadCompressedChunks and ReadBlobs pass far's batches on, if far can
// batch: the mount's prefetch fetches through them.
func (f indexingFar) ReadCompressedChunks(ctx context.Context, ds []castore.Digest, fn func(castore.Digest, []byte) error) error {
	return castore.ReadCompressedChunks(ctx, f.BlobService, ds, fn)
}

func (f indexingFar) ReadBlobs(ctx context.Context, blobs []castore.ChunkMeta, fn func(castore.ChunkMeta, []byte) error) error {
	return castore.ReadBlobs(ctx, f.BlobService, blobs, fn)
}

func (f indexingFar) OpenSized(ctx context.Context, d castore.Digest, size uint64) (castore.BlobReader, error) {
	return castore.OpenSized(ctx, f.BlobService, d, size)
}
