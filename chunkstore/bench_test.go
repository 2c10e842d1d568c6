package chunkstore_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jotfs/fastcdc-go"
	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore/filestore"
)

// The benchmark of issue 4. Run it (once; it takes about a minute) with
//
//	go test -run '^$' -bench 'ChunkedFile512MiB' -benchtime 1x ./chunkstore/
//
// or `make bench-store`. Set CASTORE_BENCH_CPUPROFILE=<file> to profile
// the store's side (the child process below).
const (
	benchCorpusSize = 512 << 20
	// benchChildEnv, when set, makes the test binary the benchmark's child
	// process instead of running tests: see TestMain.
	benchChildEnv      = "CASTORE_BENCH_CHUNKED_CHILD"
	benchCPUProfileEnv = "CASTORE_BENCH_CPUPROFILE"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(benchChildEnv); spec != "" {
		if err := benchChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "benchmark child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	corpus.remove()
	os.Exit(code)
}

// BenchmarkChunkedFile512MiB writes 512 MiB of real data into a Chunked
// store on a File object store (default options: group-commit syncs) and
// reads it back, each as a ratio to the in-process limit measured in the
// same run on the same bytes:
//
//   - write limit: FastCDC (same min/avg/max) cutting the bytes held in
//     memory, with BLAKE3 and zstd (same level) of every new chunk on
//     GOMAXPROCS workers and the BLAKE3 of the whole blob alongside: the
//     work a write cannot avoid, without I/O or copies (beyond FastCDC's
//     own buffer);
//   - read limit: zstd decode and BLAKE3 of every chunk of the blob, in
//     order, from the compressed chunks held in memory, on GOMAXPROCS
//     workers.
//
// The data is the first 512 MiB of a tar stream (archive/tar, made by the
// benchmark into a temporary file once per process) of $(go env GOROOT)
// followed by the files of $(go env GOMODCACHE) (without its cache/
// directory of downloaded zips), each file's content at most once, so the
// only dedup the store finds is the chunk-level one real data has.
//
// The limit is measured just before and just after the store, and the two
// averaged: the machine may be shared.
//
// The store's side runs in a child process (this test binary, see
// TestMain): it streams the file from disk into Create, then Open and
// io.Copy to io.Discard (a second, untimed, read checks the whole blob's
// BLAKE3). Its peak RSS is VmHWM from /proc/self/status at its end: the
// high-water mark of its own address space since exec. (wait4's ru_maxrss
// is no good here: Linux folds the parent's high-water mark, 512 MiB of
// data and more, into it across the child's vfork and exec.)
//
// Also reported, as the machine may be shared: write-cpu-ratio and
// read-cpu-ratio, the limit's CPU time (user and system, all threads)
// over the store's, which the load of other processes hardly changes:
// it shows the store's overhead, but not time lost waiting (on syncs, or
// with cores idle).
//
// ns/op, B/op and allocs/op are the parent's (corpus, limit and child
// together), not the store's.
//
// Targets (issue 4): write-ratio >= 0.75, read-ratio >= 0.75, peak RSS
// under 256 MiB.
func BenchmarkChunkedFile512MiB(b *testing.B) {
	path := corpus.get(b)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	var wLimit, rLimit, wStore, rStore time.Duration
	var wLimitCPU, rLimitCPU, wStoreCPU, rStoreCPU time.Duration
	var rss int64
	for b.Loop() {
		// The limit is measured before and after the store and averaged,
		// so a change in the machine's load meanwhile biases neither side.
		l := measureLimit(b, data, chunkstore.DefaultAvgChunkSize, procs)
		res := runStoreChild(b, path, procs)
		l2 := measureLimit(b, data, chunkstore.DefaultAvgChunkSize, procs)
		if res.Digest != l.digest.String() {
			b.Fatalf("store wrote blob %s, the limit hashed %s", res.Digest, l.digest)
		}
		ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
		b.Logf("limit: write %v and %v (CPU %v and %v; %d chunks, %d duplicates, %.1f%% compressed), read %v and %v (CPU %v and %v); store: write %v (CPU %v), read %v (CPU %v), peak RSS %d MiB",
			ms(l.write), ms(l2.write), ms(l.writeCPU), ms(l2.writeCPU), l.chunks, l.dups, 100*float64(l.compressed)/float64(len(data)),
			ms(l.read), ms(l2.read), ms(l.readCPU), ms(l2.readCPU),
			ms(res.Write), ms(res.WriteCPU), ms(res.Read), ms(res.ReadCPU), res.VmHWM>>20)
		wLimit += (l.write + l2.write) / 2
		rLimit += (l.read + l2.read) / 2
		wStore += res.Write
		rStore += res.Read
		wLimitCPU += (l.writeCPU + l2.writeCPU) / 2
		rLimitCPU += (l.readCPU + l2.readCPU) / 2
		wStoreCPU += res.WriteCPU
		rStoreCPU += res.ReadCPU
		rss = max(rss, res.VmHWM)
	}
	mbps := func(d time.Duration) float64 { return float64(b.N) * float64(len(data)) / d.Seconds() / 1e6 }
	wRatio, rRatio := wLimit.Seconds()/wStore.Seconds(), rLimit.Seconds()/rStore.Seconds()
	b.ReportMetric(wRatio, "write-ratio")
	b.ReportMetric(rRatio, "read-ratio")
	b.ReportMetric(mbps(wStore), "write-MB/s")
	b.ReportMetric(mbps(rStore), "read-MB/s")
	b.ReportMetric(mbps(wLimit), "write-limit-MB/s")
	b.ReportMetric(mbps(rLimit), "read-limit-MB/s")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(wLimitCPU.Seconds()/wStoreCPU.Seconds(), "write-cpu-ratio")
	b.ReportMetric(rLimitCPU.Seconds()/rStoreCPU.Seconds(), "read-cpu-ratio")
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	b.Logf("GOMAXPROCS %d, %d MiB: write-ratio %.2f (target 0.75 %s), read-ratio %.2f (target 0.75 %s), peak RSS %d MiB (target < 256 %s)",
		procs, len(data)>>20, wRatio, met(wRatio >= 0.75), rRatio, met(rRatio >= 0.75), rss>>20, met(rss < 256<<20))
}

type limitResult struct {
	write, read       time.Duration
	writeCPU, readCPU time.Duration
	digest            castore.Digest
	chunks, dups      int
	compressed        int
}

// measureLimit times the in-process limits on data (see the benchmark).
func measureLimit(b *testing.B, data []byte, avg, procs int) limitResult {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(procs))
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	// Like the store, it skips zstd's checksum: BLAKE3 checks every chunk.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(procs), zstd.IgnoreChecksum(true))
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()

	type job struct {
		i    int
		data []byte
	}
	maxChunks := len(data)/(avg/2) + 1
	digests := make([]castore.Digest, maxChunks)
	comp := make([][]byte, maxChunks) // nil for a chunk seen before
	var mu sync.Mutex
	seen := map[castore.Digest]bool{}

	start, cpu0 := time.Now(), testenv.CPUTime()
	var res limitResult
	var wg sync.WaitGroup
	wg.Go(func() { res.digest = castore.Sum(data) })
	jobs := make(chan job, 2*procs)
	for range procs {
		wg.Go(func() {
			for j := range jobs {
				d := castore.Sum(j.data)
				digests[j.i] = d
				mu.Lock()
				dup := seen[d]
				seen[d] = true
				mu.Unlock()
				if !dup {
					comp[j.i] = enc.EncodeAll(j.data, make([]byte, 0, len(j.data)/2))
				}
			}
		})
	}
	ch, err := fastcdc.NewChunker(bytes.NewReader(data), fastcdc.Options{AverageSize: avg, MinSize: avg / 2, MaxSize: 2 * avg})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for ; ; n++ {
		c, err := ch.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		jobs <- job{n, data[c.Offset : c.Offset+c.Length]}
	}
	close(jobs)
	wg.Wait()
	res.write, res.writeCPU = time.Since(start), testenv.CPUTime()-cpu0
	res.chunks = n

	// Every chunk of the blob in order, duplicates decoded again as a
	// reader would.
	first := map[castore.Digest][]byte{}
	for i := range n {
		if comp[i] != nil {
			first[digests[i]] = comp[i]
			res.compressed += len(comp[i])
		} else {
			res.dups++
		}
	}
	idx := make(chan int, 2*procs)
	errs := make(chan error, procs)
	start, cpu0 = time.Now(), testenv.CPUTime()
	for range procs {
		wg.Go(func() {
			buf := make([]byte, 0, 2*avg)
			for i := range idx {
				out, err := dec.DecodeAll(first[digests[i]], buf[:0])
				if err == nil && castore.Sum(out) != digests[i] {
					err = fmt.Errorf("chunk %d does not match its digest", i)
				}
				if err != nil {
					errs <- err
					for range idx {
					}
					return
				}
				buf = out
			}
		})
	}
	for i := range n {
		idx <- i
	}
	close(idx)
	wg.Wait()
	res.read, res.readCPU = time.Since(start), testenv.CPUTime()-cpu0
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return res
}

// childSpec is what the parent tells the child; childResult what the child
// answers, as one JSON line on stdout.
type childSpec struct {
	Corpus, Store, CPUProfile string
}

type childResult struct {
	Digest            string
	Size              int64
	Write, Read       time.Duration
	WriteCPU, ReadCPU time.Duration // this process's user and system time
	VmHWM             int64         // bytes, from /proc/self/status at the end
}

func runStoreChild(b *testing.B, corpusPath string, procs int) childResult {
	spec, err := json.Marshal(childSpec{Corpus: corpusPath, Store: b.TempDir(), CPUProfile: os.Getenv(benchCPUProfileEnv)})
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchChildEnv+"="+string(spec), "GOMAXPROCS="+strconv.Itoa(procs))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("store child: %v\n%s", err, stderr.Bytes())
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		b.Fatalf("store child's answer %q: %v\n%s", stdout.Bytes(), err, stderr.Bytes())
	}
	if res.Size != benchCorpusSize {
		b.Fatalf("store child read back %d bytes, want %d", res.Size, benchCorpusSize)
	}
	return res
}

// benchChild is the store's side of the benchmark, in its own process.
func benchChild(specJSON string) error {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return err
	}
	if spec.CPUProfile != "" {
		f, err := os.Create(spec.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	fstore, err := filestore.New(spec.Store, nil)
	if err != nil {
		return err
	}
	c, err := chunkstore.NewChunked(fstore, chunkstore.ChunkedOptions{})
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := os.Open(spec.Corpus)
	if err != nil {
		return err
	}
	defer f.Close()

	var res childResult
	start, cpu0 := time.Now(), testenv.CPUTime()
	w := c.Create(ctx)
	if _, err := io.Copy(w, f); err != nil {
		return err
	}
	d, err := w.Close()
	if err != nil {
		return err
	}
	res.Write, res.WriteCPU = time.Since(start), testenv.CPUTime()-cpu0
	res.Digest = d.String()

	start, cpu0 = time.Now(), testenv.CPUTime()
	r, err := c.Open(ctx, d)
	if err != nil {
		return err
	}
	res.Size, err = io.Copy(io.Discard, r)
	r.Close()
	if err != nil {
		return err
	}
	res.Read, res.ReadCPU = time.Since(start), testenv.CPUTime()-cpu0

	// Untimed: the bytes read back are the blob.
	r, err = c.Open(ctx, d)
	if err != nil {
		return err
	}
	h := castore.NewHasher()
	_, err = io.Copy(h, r)
	r.Close()
	if err != nil {
		return err
	}
	if got := h.Sum(); got != d {
		return fmt.Errorf("read back %s, wrote %s", got, d)
	}
	if res.VmHWM, err = vmHWM(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// vmHWM returns this process's peak resident set size.
func vmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

// corpus is the benchmark's data file, made once per process.
var corpus benchCorpus

type benchCorpus struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func (c *benchCorpus) get(b *testing.B) string {
	c.once.Do(func() {
		c.dir, c.err = os.MkdirTemp("", "castore-bench-corpus-")
		if c.err != nil {
			return
		}
		c.path = filepath.Join(c.dir, "corpus.tar")
		start := time.Now()
		var files int
		files, c.err = writeCorpus(c.path, benchCorpusSize)
		b.Logf("corpus: %d files of GOROOT and GOMODCACHE in %v", files, time.Since(start).Round(time.Millisecond))
	})
	if c.err != nil {
		b.Fatal(c.err)
	}
	return c.path
}

func (c *benchCorpus) remove() {
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

var errCorpusFull = errors.New("corpus is full")

// fullWriter accepts exactly n bytes, then fails with errCorpusFull.
type fullWriter struct {
	w io.Writer
	n int64
}

func (f *fullWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > f.n {
		k, err := f.w.Write(p[:f.n])
		f.n -= int64(k)
		if err == nil {
			err = errCorpusFull
		}
		return k, err
	}
	k, err := f.w.Write(p)
	f.n -= int64(k)
	return k, err
}

// writeCorpus writes the first size bytes of a tar stream of GOROOT and
// then GOMODCACHE (less its cache/ directory) to path, each distinct file
// content once, and returns how many files it holds.
func writeCorpus(path string, size int64) (int, error) {
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return 0, err
	}
	modcache, err := goEnv("GOMODCACHE")
	if err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	fw := &fullWriter{w: bw, n: size}
	tw := tar.NewWriter(fw)
	seen := map[castore.Digest]bool{}
	files := 0
	for _, src := range []struct{ name, root string }{{"goroot", goroot}, {"gomodcache", modcache}} {
		if src.root == "" {
			continue
		}
		err := filepath.WalkDir(src.root, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable: left out
			}
			if src.name == "gomodcache" && de.IsDir() && p == filepath.Join(src.root, "cache") {
				return filepath.SkipDir
			}
			if !de.Type().IsRegular() {
				return nil
			}
			content, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			d := castore.Sum(content)
			if seen[d] {
				return nil
			}
			seen[d] = true
			rel, err := filepath.Rel(src.root, p)
			if err != nil {
				return err
			}
			hdr := &tar.Header{Typeflag: tar.TypeReg, Name: src.name + "/" + filepath.ToSlash(rel), Size: int64(len(content)), Mode: 0o644}
			if fi, err := de.Info(); err == nil {
				hdr.Mode = int64(fi.Mode().Perm())
				hdr.ModTime = fi.ModTime()
			}
			files++
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err = tw.Write(content)
			return err
		})
		if errors.Is(err, errCorpusFull) {
			if err := bw.Flush(); err != nil {
				return 0, err
			}
			return files, f.Close()
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("GOROOT (%s) and GOMODCACHE (%s) hold less than %d bytes of distinct files", goroot, modcache, size)
}
