package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/s3store"
	"github.com/castore-go/castore/refstore"
)

// The garbage collection figures of issue 22, behind `make bench-gc`:
//
//	CASTORE_BENCH_GC=1 go test -run '^$' -bench '^BenchmarkGC' -benchtime 1x -timeout 60m -v ./cmd/castore/
//
// CASTORE_BENCH_GC_CHUNKS (default 100000) and CASTORE_BENCH_GC_MARK
// (default 1000000) set the sizes.
func gcBench(b *testing.B) {
	b.Helper()
	if os.Getenv("CASTORE_BENCH_GC") == "" {
		b.Skip("garbage collection benchmark: run `make bench-gc` (or set CASTORE_BENCH_GC=1)")
	}
}

func envCount(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// gcFixtureObjects writes a store of n chunk objects (1 KiB each), half
// named by the indexes of a tagged directory's files, half by indexes of
// nothing: perIndex chunks an index. It returns the root.
func gcFixtureObjects(b *testing.B, s objectstore.Store, n, perIndex int) {
	ctx := context.Background()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	r := rand.New(rand.NewPCG(1, 2))
	var files []castore.Entry
	body := make([]byte, 1024)
	for idx := 0; idx < n/perIndex; idx++ {
		chunks := make([]castore.ChunkMeta, perIndex)
		for i := range chunks {
			var d castore.Digest
			for k := range d {
				d[k] = byte(r.Uint32())
			}
			chunks[i] = castore.ChunkMeta{Digest: d, Size: 1024}
			g.Go(func() error { return s.Put(gctx, chunkfmt.ChunkKey(d), bytes.NewReader(body)) })
		}
		blob := castore.Sum(chunkfmt.EncodeIndex(chunks)) // stands in for the blob's digest
		g.Go(func() error {
			return s.Put(gctx, chunkfmt.IndexKey(blob), bytes.NewReader(chunkfmt.EncodeIndex(chunks)))
		})
		if idx%2 == 0 { // live: named by the tagged tree
			files = append(files, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("f%07d", idx)), Node: castore.FileNode(blob, uint64(perIndex*1024), false)})
		}
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	dir, err := castore.NewDirectory(files...)
	if err != nil {
		b.Fatal(err)
	}
	bundles, err := dirstore.NewBundles(s, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bundles.Put(ctx, dir); err != nil {
		b.Fatal(err)
	}
	if _, err := refstore.NewObjectStore(s).Set(ctx, castore.Tag{Name: "bench/live", Root: dir.Node()}, castore.ExpectAny); err != nil {
		b.Fatal(err)
	}
}

// gcChild runs castore gc in a child process and returns its statistics,
// wall time and peak RSS.
func gcChild(b *testing.B, args ...string) (map[string]any, time.Duration, int64) {
	b.Helper()
	cmd := castoreCommand(append([]string{"gc", "--json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("castore gc: %v\n%s", err, stderr.String())
	}
	wall := time.Since(began)
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
	var st map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &st); err != nil {
		b.Fatalf("gc --json: %v\n%s", err, stdout.String())
	}
	b.Logf("castore gc %s:\n%s", strings.Join(args, " "), stderr.String())
	return st, wall, rss
}

// BenchmarkGCMinIO: a run on MinIO (loopback) over 100,000 chunk objects,
// half of them dead: its time, its object store calls by op, its peak RSS.
func BenchmarkGCMinIO(b *testing.B) {
	gcBench(b)
	m := testenv.MinIO(b)
	m.SetEnv(b)
	n := envCount("CASTORE_BENCH_GC_CHUNKS", 100000)
	prefix := fmt.Sprintf("gcbench-%d", time.Now().UnixNano())
	s, err := s3store.New(m.Client(), m.Bucket, prefix)
	if err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	gcFixtureObjects(b, s, n, 100)
	b.Logf("wrote %d chunks and %d indexes in %s", n, n/100, time.Since(began).Round(time.Millisecond))
	grace := 2 * time.Second
	time.Sleep(grace + 2*time.Second)
	addr := "objectstore+" + m.URL(prefix)
	for b.Loop() {
		// The first run moves the dead half to trash; the second, once
		// trash is older than the grace, deletes it for good.
		st, wall, rss := gcChild(b, "--grace", grace.String(), "--blob-service-addr", addr, "--directory-service-addr", addr)
		b.ReportMetric(wall.Seconds(), "s/run")
		b.ReportMetric(float64(rss)/(1<<20), "MiB-peak-RSS")
		b.ReportMetric(st["swept"].(float64), "swept")
		b.Logf("%d chunks (half dead), first run: %s, peak RSS %d MiB, moved %v objects (%v bytes) to trash, mark %.0f ms, calls %v",
			n, wall.Round(time.Millisecond), rss>>20, st["swept"], st["swept_bytes"], st["mark_ns"].(float64)/1e6, st["object_store_calls"])
		time.Sleep(grace + 2*time.Second)
		st, wall, rss = gcChild(b, "--grace", grace.String(), "--blob-service-addr", addr, "--directory-service-addr", addr)
		b.ReportMetric(wall.Seconds(), "s/second-run")
		b.Logf("second run: %s, peak RSS %d MiB, deleted %v objects (%v bytes) for good, calls %v",
			wall.Round(time.Millisecond), rss>>20, st["reclaimed"], st["reclaimed_bytes"], st["object_store_calls"])
	}
}

// BenchmarkGCMarkFile: the mark of a closure naming 1,000,000 chunk
// objects on file:// (10,000 indexes of 100), as a dry run (which then
// also lists them), at two live-set run sizes: the memory bound.
func BenchmarkGCMarkFile(b *testing.B) {
	gcBench(b)
	n := envCount("CASTORE_BENCH_GC_MARK", 1000000)
	dir := b.TempDir()
	// Chunk files are written directly (the store's layout), the indexes,
	// bundle and tag through the store.
	began := time.Now()
	r := rand.New(rand.NewPCG(3, 4))
	body := make([]byte, 64)
	live := 0
	var files []castore.Entry
	s := mustFileStore(b, dir)
	for idx := 0; idx < n/100; idx++ {
		chunks := make([]castore.ChunkMeta, 100)
		for i := range chunks {
			var d castore.Digest
			for k := range d {
				d[k] = byte(r.Uint32())
			}
			chunks[i] = castore.ChunkMeta{Digest: d, Size: 64}
			p := filepath.Join(dir, filepath.FromSlash(chunkfmt.ChunkKey(d)))
			if err := os.WriteFile(p, body, 0o644); err != nil {
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, body, 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
		enc := chunkfmt.EncodeIndex(chunks)
		blob := castore.Sum(enc)
		if err := s.Put(context.Background(), chunkfmt.IndexKey(blob), bytes.NewReader(enc)); err != nil {
			b.Fatal(err)
		}
		files = append(files, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("f%07d", idx)), Node: castore.FileNode(blob, 6400, false)})
		live += 100
	}
	d, err := castore.NewDirectory(files...)
	if err != nil {
		b.Fatal(err)
	}
	bundles, _ := dirstore.NewBundles(s, 0)
	if _, err := bundles.Put(context.Background(), d); err != nil {
		b.Fatal(err)
	}
	if _, err := refstore.NewObjectStore(s).Set(context.Background(), castore.Tag{Name: "bench/live", Root: d.Node()}, castore.ExpectAny); err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.Logf("wrote %d chunk files and %d indexes in %s", n, n/100, time.Since(began).Round(time.Millisecond))
	addr := "objectstore+file://" + dir
	for b.Loop() {
		for _, runSize := range []int{1 << 20, 1 << 16} {
			st, wall, rss := gcChild(b, "--dry-run", "--run-size", strconv.Itoa(runSize), "--temp-dir", b.TempDir(),
				"--blob-service-addr", addr, "--directory-service-addr", addr)
			b.ReportMetric(float64(rss)/(1<<20), fmt.Sprintf("MiB-peak-RSS-run%d", runSize))
			b.Logf("%d live chunks, run size %d: dry run %s (mark %.0f ms), peak RSS %d MiB, %v runs spilled, marked %v",
				live, runSize, wall.Round(time.Millisecond), st["mark_ns"].(float64)/1e6, rss>>20, st["spilled_runs"], st["marked"])
		}
	}
}

func mustFileStore(b *testing.B, dir string) objectstore.Store {
	b.Helper()
	s, err := filestore.New(dir, &filestore.Options{Sync: filestore.SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
