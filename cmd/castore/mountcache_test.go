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
	"testing"
	"time"

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

// cacheFiles lists the blob files of a cache with their sizes.
func cacheFiles(t *testing.T, c *mountCache) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	filepath.WalkDir(c.lru.Root(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			out[p] = fi.Size()
		}
		return err
	})
	return out
}

func TestMountCacheEviction(t *testing.T) {
	ctx := context.Background()
	far, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{AvgChunkSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var blobs []castore.Digest
	var data [][]byte
	for i := range 4 {
		b := bytes.Repeat([]byte{byte(i)}, 1)
		b = append(b, randomFile(t, filepath.Join(t.TempDir(), "f"), 64<<10, uint64(i))...)
		w := far.Create(ctx)
		w.Write(b)
		d, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		blobs, data = append(blobs, d), append(data, b)
	}
	dir := t.TempDir()
	const max = 100 << 10
	c, err := openMountCache(dir, max, far, dirstore.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func(i int) {
		t.Helper()
		r, err := c.blobs.Open(ctx, blobs[i])
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data[i]) {
			t.Fatalf("blob %d: %v", i, err)
		}
	}
	// Read blobs 0..3, so 0 is the least recently read, with distinct
	// access times, with a bound high enough that writing does not sweep
	// (TestMountCacheStaysBoundedBetweenSweeps tests that).
	c.lru.SetMax(1 << 30)
	for i := range blobs {
		read(i)
		time.Sleep(20 * time.Millisecond)
	}
	c.lru.SetMax(max)
	before := cacheFiles(t, c)
	var total int64
	for _, s := range before {
		total += s
	}
	if total <= max {
		t.Fatalf("the cache holds %d bytes, expected more than %d (random data does not compress)", total, max)
	}
	removed, freed, err := c.lru.Sweep()
	if err != nil || removed == 0 {
		t.Fatalf("sweep removed %d files, %v", removed, err)
	}
	after := cacheFiles(t, c)
	var kept int64
	for _, s := range after {
		kept += s
	}
	if kept > max/10*9 || kept != total-freed {
		t.Errorf("after the sweep %d bytes are kept (freed %d of %d)", kept, freed, total)
	}
	// What was read last is kept; what was read first is gone.
	chunks3, _ := far.Chunks(ctx, blobs[3])
	chunks0, _ := far.Chunks(ctx, blobs[0])
	if _, ok := after[filepath.Join(c.lru.Root(), filepath.FromSlash(chunkfmt.ChunkKey(chunks3[len(chunks3)-1].Digest)))]; !ok {
		t.Error("a chunk of the most recently read blob was evicted")
	}
	if _, ok := after[filepath.Join(c.lru.Root(), filepath.FromSlash(chunkfmt.ChunkKey(chunks0[0].Digest)))]; ok {
		t.Error("a chunk of the least recently read blob was kept")
	}
	// Everything still reads (evicted chunks come from far again), and a
	// sweep within the bound does nothing.
	for i := range blobs {
		read(i)
	}
	c.lru.SetMax(1 << 30)
	if n, _, err := c.lru.Sweep(); err != nil || n != 0 {
		t.Errorf("sweep within the bound removed %d, %v", n, err)
	}
	// Files being written are never swept.
	tmp := filepath.Join(c.lru.Root(), "chunks", "inflight#123")
	os.MkdirAll(filepath.Dir(tmp), 0o755)
	os.WriteFile(tmp, make([]byte, 200<<10), 0o644)
	c.lru.SetMax(1)
	if _, _, err := c.lru.Sweep(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("a file being written was swept: %v", err)
	}
}

// Reading far more than the bound through the cache, with no periodic
// sweep running, keeps it within about 1.1 times the bound: every tenth
// of the bound written sweeps.
func TestMountCacheStaysBoundedBetweenSweeps(t *testing.T) {
	ctx := context.Background()
	far, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{AvgChunkSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	const bound = 200 << 10
	c, err := openMountCache(t.TempDir(), bound, far, dirstore.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var read, peak int64
	for i := range 32 { // 32 x 64 KiB: ten times the bound
		data := randomFile(t, filepath.Join(t.TempDir(), "f"), 64<<10, uint64(100+i))
		w := far.Create(ctx)
		w.Write(data)
		d, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !blobtest.ReadAndCheck(t, c.blobs, d, data) {
			t.FailNow()
		}
		read += int64(len(data))
		var size int64
		for _, s := range cacheFiles(t, c) {
			size += s
		}
		peak = max(peak, size)
	}
	// A tenth of the bound over it, and a few chunks being written when
	// a sweep ran.
	if limit := int64(bound + bound/10 + 8*(8<<10)); peak > limit {
		t.Errorf("after reading %d bytes through a %d-byte cache it held %d bytes, more than %d", read, bound, peak, limit)
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
	c, err := openMountCache(t.TempDir(), 1<<30, svcs.Blobs, svcs.Directories, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !blobtest.ReadAndCheck(t, c.blobs, d, data) {
		t.FailNow()
	}
	for _, cm := range chunks {
		key := chunkfmt.ChunkKey(cm.Digest)
		cached, err := os.ReadFile(filepath.Join(c.lru.Root(), filepath.FromSlash(key)))
		if err != nil {
			t.Fatalf("chunk %s is not in the cache: %v", cm.Digest, err)
		}
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
	open := func(blobBound int64) *mountCache {
		t.Helper()
		c, err := openMountCache(dir, blobBound, chunkstore.NewMemory(), far, log)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open(1 << 30)
	dd, err := c.db.Put(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Grow the file past 16 MiB (bolt ignores room it did not use).
	if err := os.Truncate(filepath.Join(dir, "directories.db"), 20<<20); err != nil {
		t.Fatal(err)
	}
	c = open(1 << 30) // bound 100 MiB: kept
	if _, err := c.db.Get(ctx, dd); err != nil {
		t.Fatalf("a directory cache within its bound lost a directory: %v", err)
	}
	c.Close()
	c = open(100 << 20) // bound 16 MiB: started afresh
	defer c.Close()
	if _, err := c.db.Get(ctx, dd); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("a directory cache over its bound still has a directory: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "directories.db")); err != nil || fi.Size() > 1<<20 {
		t.Fatalf("the directory cache file after starting afresh: %v", err)
	}
}
