package loadtest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/internal/testenv"
)

var (
	clients  = flag.Int("clients", 20, "concurrent clients")
	duration = flag.Duration("duration", 5*time.Second, "how long the load runs")
	faultFor = flag.Duration("fault", 10*time.Second, "how long MinIO is down in TestFaultMinIODown")
)

// server is a `castore serve` child process.
type server struct {
	addr string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

var buildOnce sync.Once
var binPath string
var buildErr error

// TestMain removes the castore binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func castoreBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "castore-loadtest-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "castore")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/castore-go/castore/cmd/castore").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func startServer(t *testing.T, args ...string) *server {
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &server{addr: addr, log: &bytes.Buffer{}}
	s.cmd = exec.Command(castoreBinary(t), append([]string{"serve", "--listen", addr, "--log-level", "warn"}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("castore serve exited with %v\n%s", err, s.log)
			}
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			t.Errorf("castore serve did not stop on SIGINT\n%s", s.log)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("castore serve did not listen on %s: %v\n%s", addr, err, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stats collects latencies per operation.
type stats struct {
	mu     sync.Mutex
	lat    map[string][]time.Duration
	errs   map[string]int
	first  map[string]error
	wrong  map[string]error // the first failure that is not "unavailable"
	nBytes atomic.Int64
}

func newStats() *stats {
	return &stats{lat: map[string][]time.Duration{}, errs: map[string]int{}, first: map[string]error{}, wrong: map[string]error{}}
}

func (s *stats) record(op string, start time.Time, err error) {
	d := time.Since(start)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs[op]++
		if s.first[op] == nil {
			s.first[op] = err
		}
		if s.wrong[op] == nil && !isUnavailable(err) {
			s.wrong[op] = err
		}
		return
	}
	s.lat[op] = append(s.lat[op], d)
}

func (s *stats) report(t *testing.T, elapsed time.Duration) {
	ops := make([]string, 0, len(s.lat))
	for op := range s.lat {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	total := 0
	for _, op := range ops {
		l := s.lat[op]
		slices.Sort(l)
		total += len(l)
		t.Logf("%-10s %7d ok %5d failed  p50 %8s  p99 %8s  %7.0f/s", op, len(l), s.errs[op],
			l[len(l)/2].Round(10*time.Microsecond), l[len(l)*99/100].Round(10*time.Microsecond), float64(len(l))/elapsed.Seconds())
	}
	t.Logf("total %d calls in %s: %.0f calls/s, %.1f MiB/s of blob data", total, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds(), float64(s.nBytes.Load())/elapsed.Seconds()/(1<<20))
}

// workload is shared state: blobs and roots acknowledged so far, which any
// client may read back.
type workload struct {
	mu    sync.Mutex
	blobs map[castore.Digest][]byte
	roots map[castore.Digest]int // root -> number of directories in its closure
	pool  [][]byte               // contents several clients put, to exercise identical writes
}

func newWorkload() *workload {
	w := &workload{blobs: map[castore.Digest][]byte{}, roots: map[castore.Digest]int{}}
	r := rand.New(rand.NewPCG(42, 42))
	for range 16 {
		w.pool = append(w.pool, randBytes(r, 1+r.IntN(600<<10)))
	}
	return w
}

// seed stores the pool at addr, as a client uploads files before the
// directories that name them.
func (w *workload) seed(t *testing.T, addr string) {
	t.Helper()
	conn, err := grpcapi.Dial(context.Background(), "grpc+http://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	blobs := grpcapi.NewBlobClient(conn)
	for _, data := range w.pool {
		bw := blobs.Create(t.Context())
		_, err := bw.Write(data)
		var d castore.Digest
		if err == nil {
			d, err = bw.Close()
		}
		if err != nil {
			t.Fatalf("storing the pool: %v", err)
		}
		w.mu.Lock()
		w.blobs[d] = data
		w.mu.Unlock()
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func (w *workload) anyBlob(r *rand.Rand) (castore.Digest, []byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for d, b := range w.blobs { // map order is random enough
		if r.IntN(4) == 0 || len(w.blobs) < 4 {
			return d, b, true
		}
	}
	return castore.Digest{}, nil, false
}

func (w *workload) anyRoot() (castore.Digest, int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for d, n := range w.roots {
		return d, n, true
	}
	return castore.Digest{}, 0, false
}

// closure makes a small random tree: a root over k subdirectories with a
// few files each, sometimes identical across clients. Its files are blobs
// of the pool, which runLoad stores first: a server accepts a directory
// only once it has the blobs it names.
func closure(r *rand.Rand, shared bool, pool [][]byte) []*castore.Directory {
	seed := r.Uint64()
	if shared {
		seed = uint64(r.IntN(8))
	}
	rr := rand.New(rand.NewPCG(seed, 7))
	var dirs []*castore.Directory
	var top []castore.Entry
	for i := range 1 + rr.IntN(4) {
		var es []castore.Entry
		for j := range 1 + rr.IntN(20) {
			data := pool[rr.IntN(len(pool))]
			es = append(es, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("f%d", j)),
				Node: castore.FileNode(castore.Sum(data), uint64(len(data)), j%3 == 0)})
		}
		d, _ := castore.NewDirectory(es...)
		dirs = append(dirs, d)
		top = append(top, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("d%d", i)), Node: d.Node()})
	}
	root, _ := castore.NewDirectory(top...)
	return append(dirs, root)
}

// distinct is the number of directories a closure holds: two
// subdirectories with the same contents are one directory (about one
// closure in 2,500 that closure makes has such a pair).
func distinct(dirs []*castore.Directory) int {
	m := make(map[castore.Digest]bool, len(dirs))
	for _, d := range dirs {
		m[d.Digest()] = true
	}
	return len(m)
}

// runLoad runs clients against addr for d and returns the stats.
func runLoad(t *testing.T, addr string, w *workload, nClients int, d time.Duration, allowUnavailable bool) *stats {
	w.seed(t, addr)
	st := newStats()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for c := range nClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := grpcapi.Dial(context.Background(), "grpc+http://"+addr)
			if err != nil {
				st.record("dial", time.Now(), err)
				return
			}
			defer conn.Close()
			client(ctx, conn, w, st, rand.New(rand.NewPCG(uint64(c), 99)))
		}()
	}
	start := time.Now()
	wg.Wait()
	elapsed := time.Since(start)
	st.report(t, elapsed)
	for op, n := range st.errs {
		if allowUnavailable && st.wrong[op] == nil {
			t.Logf("%s: %d calls failed, all unavailable, while the far store was down (first: %v)", op, n, st.first[op])
			continue
		}
		if allowUnavailable {
			t.Errorf("%s: %d calls failed; one with something other than unavailable: %v", op, n, st.wrong[op])
			continue
		}
		t.Errorf("%s: %d calls failed; first: %v", op, n, st.first[op])
	}
	return st
}

// isUnavailable reports whether a failure says "try again later" rather
// than giving a wrong answer.
func isUnavailable(err error) bool {
	c := status.Code(err)
	return c == codes.Unavailable || c == codes.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded)
}

// client issues a random mix until ctx ends. A call still in flight when
// the run ends is not counted.
func client(ctx context.Context, conn *grpc.ClientConn, w *workload, st *stats, r *rand.Rand) {
	blobs := grpcapi.NewBlobClient(conn)
	dirs := grpcapi.NewDirectoryClient(conn)
	for ctx.Err() == nil {
		start := time.Now()
		callCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var op string
		var err error
		switch k := r.IntN(10); {
		case k < 3: // blob Put: distinct or shared content
			op = "blob.Put"
			var data []byte
			if r.IntN(2) == 0 {
				data = w.pool[r.IntN(len(w.pool))]
			} else {
				data = randBytes(r, 1+r.IntN(256<<10))
			}
			bw := blobs.Create(callCtx)
			if _, err = bw.Write(data); err == nil {
				var d castore.Digest
				if d, err = bw.Close(); err == nil {
					if d != castore.Sum(data) {
						err = fmt.Errorf("Put answered %s for %s", d, castore.Sum(data))
					} else {
						w.mu.Lock()
						w.blobs[d] = data
						w.mu.Unlock()
						st.nBytes.Add(int64(len(data)))
					}
				}
			}
		case k < 5: // Stat
			op = "blob.Stat"
			if d, _, ok := w.anyBlob(r); ok {
				var has bool
				if has, err = blobs.Has(callCtx, d); err == nil && !has {
					err = fmt.Errorf("acknowledged blob %s is missing", d)
				}
			}
		case k < 7: // Read (the client verifies every chunk)
			op = "blob.Read"
			if d, want, ok := w.anyBlob(r); ok {
				var br castore.BlobReader
				if br, err = blobs.Open(callCtx, d); err == nil {
					var got bytes.Buffer
					_, err = got.ReadFrom(br)
					br.Close()
					if err == nil && !bytes.Equal(got.Bytes(), want) {
						err = fmt.Errorf("blob %s read back different bytes", d)
					}
					st.nBytes.Add(int64(got.Len()))
				}
			}
		case k < 9: // directory Put
			op = "dir.Put"
			cl := closure(r, r.IntN(2) == 0, w.pool)
			p := dirs.NewPutter(callCtx)
			for _, d := range cl {
				if err = p.Put(d); err != nil {
					break
				}
			}
			if err == nil {
				var root castore.Digest
				if root, err = p.Close(); err == nil {
					w.mu.Lock()
					w.roots[root] = distinct(cl)
					w.mu.Unlock()
				}
			}
		default: // recursive Get (the client checks order and digests)
			op = "dir.Get"
			if root, n, ok := w.anyRoot(); ok {
				got := 0
				for _, gerr := range dirs.GetRecursive(callCtx, root) {
					if gerr != nil {
						err = gerr
						break
					}
					got++
				}
				if err == nil && got != n {
					err = fmt.Errorf("closure %s: got %d directories, want %d", root, got, n)
				}
			}
		}
		cancel()
		if ctx.Err() != nil && err != nil {
			return // cut off by the end of the run
		}
		st.record(op, start, err)
	}
}

// verifyAll reads back every acknowledged blob and root.
func verifyAll(t *testing.T, addr string, w *workload) {
	conn, err := grpcapi.Dial(context.Background(), "grpc+http://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	blobs, dirs := grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn)
	ctx := context.Background()
	for d, want := range w.blobs {
		br, err := blobs.Open(ctx, d)
		if err != nil {
			t.Errorf("acknowledged blob %s: %v", d, err)
			continue
		}
		var got bytes.Buffer
		_, err = got.ReadFrom(br)
		br.Close()
		if err != nil || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("acknowledged blob %s reads back wrong: %v", d, err)
		}
	}
	for root := range w.roots {
		for _, err := range dirs.GetRecursive(ctx, root) {
			if err != nil {
				t.Errorf("acknowledged root %s: %v", root, err)
				break
			}
		}
	}
	t.Logf("verified %d blobs and %d roots", len(w.blobs), len(w.roots))
}

// TestLoadEmbedded runs the load against the embedded default stores.
func TestLoadEmbedded(t *testing.T) {
	s := startServer(t, "--data-dir", t.TempDir())
	w := newWorkload()
	runLoad(t, s.addr, w, *clients, *duration, false)
	verifyAll(t, s.addr, w)
}

// minioConfig writes a composition with a memory near and MinIO far for
// blobs, and an embedded near with MinIO bundles far for directories.
func minioConfig(t *testing.T, m *testenv.MinIOServer) string {
	cfg := fmt.Sprintf(`blobservices:
  near: {type: memory}
  far: {type: objectstore, url: %q}
  default: {type: combined, near: near, far: far}
directoryservices:
  near: {type: embedded, path: %q}
  far: {type: objectstore, url: %q}
  default: {type: cache, near: near, far: far}
`, m.URL("blobs"), filepath.Join(t.TempDir(), "near.db"), m.URL("dirs"))
	p := filepath.Join(t.TempDir(), "castore.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadFarMinIO runs the load with MinIO as the far store.
func TestLoadFarMinIO(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	s := startServer(t, "--config", minioConfig(t, m))
	w := newWorkload()
	runLoad(t, s.addr, w, *clients, *duration, false)
	verifyAll(t, s.addr, w)
}

// TestFaultMinIODown stops MinIO during the load. Failing calls must be
// UNAVAILABLE (or time out), never a wrong answer: the verifying clients
// turn any wrong byte into a different error. The server must stay up, and
// once MinIO is back everything acknowledged must read back.
func TestFaultMinIODown(t *testing.T) {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	s := startServer(t, "--config", minioConfig(t, m))
	w := newWorkload()
	total := *duration + *faultFor + 5*time.Second
	go func() {
		time.Sleep(*duration / 2)
		m.Stop()
		t.Logf("MinIO stopped for %s", *faultFor)
		time.Sleep(*faultFor)
		m.Start()
		t.Logf("MinIO is back")
	}()
	runLoad(t, s.addr, w, *clients, total, true)
	if s.cmd.ProcessState != nil {
		t.Fatalf("the server exited during the fault\n%s", s.log)
	}
	// After the fault, calls succeed again without a restart.
	runLoad(t, s.addr, w, max(1, *clients/4), 3*time.Second, false)
	verifyAll(t, s.addr, w)
}

// TestClosureCountsDistinct: the workload expects as many directories
// back from a recursive Get as its closure holds distinct ones. A closure
// with two identical subdirectories once failed TestFaultMinIODown with
// "got 2 directories, want 3".
func TestClosureCountsDistinct(t *testing.T) {
	w := newWorkload()
	for s := uint64(0); s < 100_000; s++ {
		cl := closure(rand.New(rand.NewPCG(s, 1)), false, w.pool)
		if distinct(cl) == len(cl) {
			continue
		}
		ctx := context.Background()
		dirs := dirstore.NewMemory()
		p := dirs.NewPutter(ctx)
		for _, d := range cl {
			if err := p.Put(d); err != nil {
				t.Fatal(err)
			}
		}
		root, err := p.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, err := range dirs.GetRecursive(ctx, root) {
			if err != nil {
				t.Fatal(err)
			}
			got++
		}
		if got != distinct(cl) {
			t.Fatalf("seed %d: closure of %d directories, %d distinct; GetRecursive gave %d", s, len(cl), distinct(cl), got)
		}
		return
	}
	t.Fatal("no closure with identical subdirectories in 100,000 seeds")
}
