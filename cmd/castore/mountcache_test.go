//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/objectstore/memstore"
)

// countingFar counts the reads that reach far.
type countingFar struct {
	castore.BlobService
	reads atomic.Int64
}

func (f *countingFar) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	f.reads.Add(1)
	return castore.ReadCompressedChunk(ctx, f.BlobService, d)
}

// Reading far more than the bound through the cache keeps it within
// about the bound and a pack; a blob read often stays (its reads never
// reach far again), one read long ago does not.
func TestMountCacheBounded(t *testing.T) {
	ctx := context.Background()
	store, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{AvgChunkSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	far := &countingFar{BlobService: store}
	const bound = 400 << 10
	c, err := compose.OpenLocalCache(t.TempDir(), bound, far, dirstore.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	put := func(seed uint64) (castore.Digest, []byte) {
		data := randomFile(t, filepath.Join(t.TempDir(), "f"), 64<<10, seed)
		w := store.Create(ctx)
		w.Write(data)
		d, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		return d, data
	}
	hot, hotData := put(1)
	first, firstData := put(2)
	if !blobtest.ReadAndCheck(t, c.Blobs, first, firstData) {
		t.FailNow()
	}
	var peak int64
	for i := range 64 { // 64 x 64 KiB: ten times the bound
		if !blobtest.ReadAndCheck(t, c.Blobs, hot, hotData) {
			t.FailNow()
		}
		d, data := put(uint64(100 + i))
		if !blobtest.ReadAndCheck(t, c.Blobs, d, data) {
			t.FailNow()
		}
		peak = max(peak, c.Blobs.Packs.Size())
	}
	// A pack (an eighth of the bound) over it, and a blob's worth.
	if limit := int64(bound + bound/8 + 80<<10); peak > limit {
		t.Errorf("after reading %d KiB through a %d KiB cache it held %d bytes, more than %d", 64*64, bound>>10, peak, limit)
	}
	far.reads.Store(0)
	if !blobtest.ReadAndCheck(t, c.Blobs, hot, hotData) || far.reads.Load() != 0 {
		t.Errorf("the blob read all along was evicted (%d chunk reads from far)", far.reads.Load())
	}
	if !blobtest.ReadAndCheck(t, c.Blobs, first, firstData) || far.reads.Load() == 0 {
		t.Error("the blob read once, long ago, was still in the cache")
	}
}

// A cache dir of an older castore (one file per chunk in blobs/) is
// removed when a mount opens it.
func TestMountCacheRemovesOldLayout(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "blobs", "chunks", "b3", "abcd")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(old, "x"), []byte("old"), 0o644)
	c, err := compose.OpenLocalCache(dir, 1<<30, chunkstore.NewMemory(), dirstore.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := os.Stat(filepath.Join(dir, "blobs")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the old cache is still there: %v", err)
	}
}

// A mount cache in front of a castore server (opened from its URL, as
// `castore mount` does) keeps the server's chunks as the server stores
// them, byte for byte: they come compressed and are not compressed again.
// The server's objects are recompressed at another level first, so that
// a cache compressing on its own could not match them by chance.
func TestMountCacheKeepsServerChunksAsStored(t *testing.T) {
	ctx := t.Context()
	mem := memstore.New()
	remote, err := chunkstore.NewChunked(mem, chunkstore.ChunkedOptions{AvgChunkSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	data := randomFile(t, filepath.Join(t.TempDir(), "f"), 256<<10, 3)
	data = append(data, bytes.Repeat([]byte("compressible "), 20000)...)
	w := remote.Create(ctx)
	w.Write(data)
	d, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := remote.Chunks(ctx, d)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("%d chunks, %v", len(chunks), err)
	}
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	for _, cm := range chunks {
		r, _ := mem.Get(ctx, chunkfmt.ChunkKey(cm.Digest))
		comp, _ := io.ReadAll(r)
		r.Close()
		raw, err := chunkfmt.DecodeChunk(cm.Digest, comp, int64(cm.Size))
		if err != nil {
			t.Fatal(err)
		}
		mem.Put(ctx, chunkfmt.ChunkKey(cm.Digest), bytes.NewReader(enc.EncodeAll(raw, nil)))
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpcapi.ServerOptions()...)
	grpcapi.Register(srv, remote, nil)
	go srv.Serve(l)
	defer srv.Stop()
	svcs, err := compose.Open(ctx, compose.DefaultRegistry(), compose.Options{
		BlobServiceAddr: "grpc+http://" + l.Addr().String(), DirectoryServiceAddr: "memory://"})
	if err != nil {
		t.Fatal(err)
	}
	defer svcs.Close()
	c, err := compose.OpenLocalCache(t.TempDir(), 1<<30, svcs.Blobs, svcs.Directories, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !blobtest.ReadAndCheck(t, c.Blobs, d, data) {
		t.FailNow()
	}
	for _, cm := range chunks {
		key := chunkfmt.ChunkKey(cm.Digest)
		cr, err := c.Blobs.Packs.Get(ctx, key)
		if err != nil {
			t.Fatalf("chunk %s is not in the cache: %v", cm.Digest, err)
		}
		cached, _ := io.ReadAll(cr)
		cr.Close()
		r, _ := mem.Get(ctx, key)
		stored, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(cached, stored) {
			t.Fatalf("chunk %s: the cache holds %d bytes, the server stores %d others", cm.Digest, len(cached), len(stored))
		}
	}
}

// The directory cache is kept from one mount to the next until its file
// outgrows a tenth of the blob bound (at least 16 MiB); a mount then
// starts it afresh.
func TestMountCacheDirectoriesBounded(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	far := dirstore.NewMemory()
	d := dirtest.MustDir(t, castore.Entry{Name: "f", Node: castore.FileNode(castore.EmptyDigest, 0, false)})
	open := func(blobBound int64) *compose.LocalCache {
		t.Helper()
		c, err := compose.OpenLocalCache(dir, blobBound, chunkstore.NewMemory(), far, log)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open(1 << 30)
	dd, err := c.Dirs.DB.Put(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Grow the file past 16 MiB (bolt ignores room it did not use).
	if err := os.Truncate(filepath.Join(dir, "directories.db"), 20<<20); err != nil {
		t.Fatal(err)
	}
	c = open(1 << 30) // bound 100 MiB: kept
	if _, err := c.Dirs.DB.Get(ctx, dd); err != nil {
		t.Fatalf("a directory cache within its bound lost a directory: %v", err)
	}
	c.Close()
	c = open(100 << 20) // bound 16 MiB: started afresh
	defer c.Close()
	if _, err := c.Dirs.DB.Get(ctx, dd); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("a directory cache over its bound still has a directory: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "directories.db")); err != nil || fi.Size() > 1<<20 {
		t.Fatalf("the directory cache file after starting afresh: %v", err)
	}
}
