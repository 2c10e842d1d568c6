package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/internal/testenv"
)

// A fleet of `castore serve` frontends on one MinIO, each with its own
// near cache (in its memory), on 127.0.0.1, 127.0.0.2 and 127.0.0.3, and
// clients given all three (grpc+http://A,B,C).

// fleetConnAge is the frontends' --max-connection-age here: short, so
// that the clients' connections are renewed several times a test.
const fleetConnAge = 5 * time.Second

type fleetFrontend struct {
	*serveChild
	listen, metrics string // host:port
	dir             string
	args            []string
}

func (f *fleetFrontend) start(t testing.TB) {
	t.Helper()
	f.serveChild = startServeChildAt(t, f.listen, f.dir, f.args...)
}

// calls is how many calls the frontend has served since it started,
// health checks aside, from its metrics.
func (f *fleetFrontend) calls(t testing.TB) int64 {
	t.Helper()
	resp, err := http.Get("http://" + f.metrics + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", f.listen, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for line := range strings.Lines(string(body)) {
		if !strings.HasPrefix(line, "rpc_server_call_duration_seconds_count{") || strings.Contains(line, "grpc.health.v1") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metrics of %s: %q: %v", f.listen, line, err)
		}
		n += int64(v)
	}
	return n
}

// startFleet starts n frontends (n <= 3) on one MinIO and returns them
// and the address naming them all.
func startFleet(t testing.TB, n int) ([]*fleetFrontend, string) {
	t.Helper()
	m := testenv.MinIO(t)
	m.SetEnv(t)
	config := filepath.Join(t.TempDir(), "fleet.yaml")
	cfg := fmt.Sprintf(`blobservices:
  near: {type: memory, max_bytes: 268435456}
  far: {type: objectstore, url: %q}
  default: {type: combined, near: near, far: far, write: both}
directoryservices:
  near: {type: memory}
  far: {type: objectstore, url: %q}
  default: {type: cache, near: near, far: far}
refservices:
  default: {type: objectstore, url: %q}
`, m.URL("fleet"), m.URL("fleet"), m.URL("fleet/refs"))
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var fs []*fleetFrontend
	var hosts []string
	for i := range n {
		host := fmt.Sprintf("127.0.0.%d", i+1)
		f := &fleetFrontend{
			listen:  fmt.Sprintf("%s:%d", host, testenv.FreePort(t)),
			metrics: fmt.Sprintf("%s:%d", host, testenv.FreePort(t)),
			dir:     t.TempDir(),
		}
		f.args = []string{"--config", config, "--metrics-listen", f.metrics,
			"--max-connection-age", fleetConnAge.String(), "--max-connection-age-grace", "30s",
			"--drain-delay", "1s", "--grace-period", "10s"}
		f.start(t)
		fs = append(fs, f)
		hosts = append(hosts, f.listen)
	}
	return fs, "grpc+http://" + strings.Join(hosts, ",")
}

func dialFleet(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := grpcapi.Dial(ctx, addr+"?wait-connect=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// fleetBlob is the content of a blob a test writes, made again from
// (seed, seq) to check it.
func fleetBlob(seed, seq uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, seq))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func fileDir(t testing.TB, d castore.Digest, size int) *castore.Directory {
	dir, err := castore.NewDirectory(castore.Entry{Name: "f", Node: castore.FileNode(d, uint64(size), false)})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func readBlob(ctx context.Context, bc castore.BlobService, d castore.Digest) ([]byte, error) {
	r, err := bc.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func putBlob(ctx context.Context, bc castore.BlobService, data []byte) (castore.Digest, error) {
	return writeBlob(bc.Create(ctx), data)
}

// putBlobCut puts a blob cut here (as castore import does): its chunks
// with PutCompressed, balanced over the fleet, and then the blob as its
// chunks with PutBlob, which the frontend it reaches checks.
func putBlobCut(ctx context.Context, bc *grpcapi.BlobClient, data []byte) (castore.Digest, error) {
	w, err := bc.CreateChunked(ctx)
	if err != nil {
		return castore.Digest{}, err
	}
	return writeBlob(w, data)
}

func writeBlob(w castore.BlobWriter, data []byte) (castore.Digest, error) {
	if _, err := w.Write(data); err != nil {
		w.Close()
		return castore.Digest{}, err
	}
	return w.Close()
}

// TestFleet runs the three frontends through what a fleet must do: spread
// the calls of clients given all three, show a write through one at once
// through the others, keep every read working while one is killed and
// started again, and drain one told to stop without a failed call.
func TestFleet(t *testing.T) {
	fs, addr := startFleet(t, 3)
	single := make([]*grpc.ClientConn, len(fs))
	for i, f := range fs {
		single[i] = dialFleet(t, "grpc+http://"+f.listen)
	}

	if !t.Run("spread", func(t *testing.T) { testFleetSpread(t, fs, addr) }) {
		return
	}
	if !t.Run("write through one, read through the others", func(t *testing.T) { testFleetSeesWrites(t, single) }) {
		return
	}
	if !t.Run("kill one under load", func(t *testing.T) { testFleetKill(t, fs, addr) }) {
		return
	}
	t.Run("drain one under load", func(t *testing.T) { testFleetDrain(t, fs, addr) })
}

// A client given the three sends a third of its calls to each, counted
// by each frontend.
func testFleetSpread(t *testing.T, fs []*fleetFrontend, addr string) {
	conn := dialFleet(t, addr)
	bc := grpcapi.NewBlobClient(conn)
	ctx := t.Context()
	d := castore.Sum([]byte("spread"))
	counts := func() []int64 {
		var c []int64
		for _, f := range fs {
			c = append(c, f.calls(t))
		}
		return c
	}
	// Ready once one frontend is; wait for all three.
	for deadline := time.Now().Add(10 * time.Second); ; {
		before := counts()
		for range 30 {
			if _, err := bc.Has(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		after := counts()
		if after[0] > before[0] && after[1] > before[1] && after[2] > before[2] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, calls reach only some frontends: %v -> %v", before, after)
		}
	}
	before := counts()
	const n = 300
	for range n {
		if _, err := bc.Has(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	after := counts()
	var got []int64
	for i := range fs {
		got = append(got, after[i]-before[i])
	}
	t.Logf("%d calls of one client, counted by the three frontends: %v", n, got)
	for i, c := range got {
		if c < n/3-n/30 || c > n/3+n/30 {
			t.Errorf("frontend %s served %d of %d calls, want about a third", fs[i].listen, c, n)
		}
	}
}

// 100 times: a blob, a directory naming it and a tag naming that, asked
// for first through the other two frontends (absent: an answer a cache
// must not keep), then written through one, are at once there through
// the other two, whole.
func testFleetSeesWrites(t *testing.T, single []*grpc.ClientConn) {
	ctx := t.Context()
	for i := range 100 {
		w := i % len(single)
		size := 1 + (i*7919)%(600<<10) // up to 600 KiB: one chunk or several
		data := fleetBlob(1, uint64(i), size)
		d := castore.Sum(data)
		dir := fileDir(t, d, size)
		tag := fmt.Sprintf("fleet-%d", i)
		var others []int
		for j := range single {
			if j != w {
				others = append(others, j)
			}
		}
		for _, j := range others {
			bc, dc := grpcapi.NewBlobClient(single[j]), grpcapi.NewDirectoryClient(single[j])
			if ok, err := bc.Has(ctx, d); ok || err != nil {
				t.Fatalf("#%d: frontend %d has the blob before it is written (%v, %v)", i, j, ok, err)
			}
			if _, err := readBlob(ctx, bc, d); !errors.Is(err, castore.ErrNotFound) {
				t.Fatalf("#%d: frontend %d reads the blob before it is written: %v", i, j, err)
			}
			if _, err := dc.Get(ctx, dir.Digest()); !errors.Is(err, castore.ErrNotFound) {
				t.Fatalf("#%d: frontend %d gets the directory before it is written: %v", i, j, err)
			}
			if _, err := grpcapi.NewRefClient(single[j]).Get(ctx, tag); !errors.Is(err, castore.ErrNotFound) {
				t.Fatalf("#%d: frontend %d gets the tag before it is set: %v", i, j, err)
			}
		}
		put := putBlob
		if i%2 == 1 {
			put = func(ctx context.Context, bc castore.BlobService, data []byte) (castore.Digest, error) {
				return putBlobCut(ctx, bc.(*grpcapi.BlobClient), data)
			}
		}
		if got, err := put(ctx, grpcapi.NewBlobClient(single[w]), data); err != nil || got != d {
			t.Fatalf("#%d: put through frontend %d: %v, %v", i, w, got, err)
		}
		if _, err := grpcapi.NewDirectoryClient(single[w]).Put(ctx, dir); err != nil {
			t.Fatalf("#%d: directory put through frontend %d: %v", i, w, err)
		}
		if _, err := grpcapi.NewRefClient(single[w]).Set(ctx, castore.Tag{Name: tag, Root: dir.Node()}, castore.Expect{}); err != nil {
			t.Fatalf("#%d: tag set through frontend %d: %v", i, w, err)
		}
		for _, j := range others {
			bc, dc := grpcapi.NewBlobClient(single[j]), grpcapi.NewDirectoryClient(single[j])
			if ok, err := bc.Has(ctx, d); !ok || err != nil {
				t.Fatalf("#%d: written through frontend %d, frontend %d has it: %v, %v", i, w, j, ok, err)
			}
			got, err := readBlob(ctx, bc, d)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("#%d: written through frontend %d, read through %d: %d bytes of %d, %v", i, w, j, len(got), len(data), err)
			}
			if g, err := dc.Get(ctx, dir.Digest()); err != nil || g.Digest() != dir.Digest() {
				t.Fatalf("#%d: directory written through frontend %d, got through %d: %v", i, w, j, err)
			}
			if got, err := grpcapi.NewRefClient(single[j]).Get(ctx, tag); err != nil || got.Root != dir.Node() {
				t.Fatalf("#%d: tag set through frontend %d, got through %d: %+v, %v", i, w, j, got, err)
			}
		}
	}
}

// fleetLoad is many clients, each with its own connection to the fleet,
// reading a pool of blobs and directories and writing new ones.
type fleetLoad struct {
	pool  []castore.Digest // blobs, read whole
	sizes map[castore.Digest]int
	roots []castore.Digest // directories naming them

	reads, writes       atomic.Int64
	mu                  sync.Mutex
	readErrs, writeErrs fleetErrors
	acked               []fleetWrite
}

// fleetErrors counts failed calls by code, with a few examples of each.
type fleetErrors struct {
	n        map[codes.Code]int
	examples map[codes.Code][]string
}

type fleetWrite struct {
	seed, seq uint64
	size      int
	blob      castore.Digest
	root      castore.Digest // zero if the directory's Put failed
}

func newFleetLoad(t testing.TB, addr string) *fleetLoad {
	l := &fleetLoad{sizes: map[castore.Digest]int{}}
	conn := dialFleet(t, addr)
	bc, dc := grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn)
	for i := range 40 {
		size := 4 << 10
		if i%8 == 0 {
			size = 1 << 20 // several chunks
		}
		data := fleetBlob(2, uint64(i), size)
		d, err := putBlob(t.Context(), bc, data)
		if err != nil {
			t.Fatal(err)
		}
		root, err := dc.Put(t.Context(), fileDir(t, d, size))
		if err != nil {
			t.Fatal(err)
		}
		l.pool, l.roots = append(l.pool, d), append(l.roots, root)
		l.sizes[d] = size
	}
	return l
}

func (l *fleetLoad) fail(errs *fleetErrors, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := status.Code(err)
	if errs.n == nil {
		errs.n, errs.examples = map[codes.Code]int{}, map[codes.Code][]string{}
	}
	errs.n[c]++
	if len(errs.examples[c]) < 3 {
		errs.examples[c] = append(errs.examples[c], err.Error())
	}
}

// run starts clients until ctx ends; wait waits for them.
func (l *fleetLoad) run(ctx context.Context, t testing.TB, addr string, clients int, pace time.Duration) (wait func()) {
	var wg sync.WaitGroup
	for c := range clients {
		conn, err := grpcapi.Dial(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		bc, dc := grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn)
		wg.Go(func() {
			defer conn.Close()
			r := rand.New(rand.NewPCG(uint64(c), 3))
			seed := uint64(1000 + c)
			for seq := uint64(0); ctx.Err() == nil; seq++ {
				if r.IntN(5) == 0 {
					size := 1 + r.IntN(32<<10)
					if seq%8 == 0 {
						size = 256<<10 + r.IntN(256<<10) // cut in several chunks
					}
					l.write(ctx, bc, dc, seed, seq, size)
				} else {
					l.read(ctx, bc, dc, r)
				}
				select {
				case <-ctx.Done():
				case <-time.After(pace):
				}
			}
		})
	}
	return wg.Wait
}

func (l *fleetLoad) read(ctx context.Context, bc *grpcapi.BlobClient, dc *grpcapi.DirectoryClient, r *rand.Rand) {
	i := r.IntN(len(l.pool))
	var err error
	if r.IntN(2) == 0 {
		var got []byte
		got, err = readBlob(ctx, bc, l.pool[i])
		if err == nil && (len(got) != l.sizes[l.pool[i]] || castore.Sum(got) != l.pool[i]) {
			err = fmt.Errorf("blob %s: read %d bytes that are not it", l.pool[i], len(got))
		}
	} else {
		var dir *castore.Directory
		dir, err = dc.Get(ctx, l.roots[i])
		if err == nil && dir.Digest() != l.roots[i] {
			err = fmt.Errorf("directory %s: got another", l.roots[i])
		}
	}
	if ctx.Err() != nil {
		return
	}
	l.reads.Add(1)
	if err != nil {
		l.fail(&l.readErrs, err)
	}
}

func (l *fleetLoad) write(ctx context.Context, bc *grpcapi.BlobClient, dc *grpcapi.DirectoryClient, seed, seq uint64, size int) {
	data := fleetBlob(seed, seq, size)
	var d castore.Digest
	var err error
	if seq%2 == 0 {
		d, err = putBlobCut(ctx, bc, data)
	} else {
		d, err = putBlob(ctx, bc, data)
	}
	if ctx.Err() != nil {
		return
	}
	l.writes.Add(1)
	if err != nil {
		l.fail(&l.writeErrs, err)
		return
	}
	w := fleetWrite{seed: seed, seq: seq, size: size, blob: d}
	dir, err := castore.NewDirectory(castore.Entry{Name: "f", Node: castore.FileNode(d, uint64(size), false)})
	if err != nil {
		panic(err) // one valid entry
	}
	root, err := dc.Put(ctx, dir)
	if ctx.Err() != nil {
		return
	}
	l.writes.Add(1)
	if err != nil {
		l.fail(&l.writeErrs, err)
	} else {
		w.root = root
	}
	l.mu.Lock()
	l.acked = append(l.acked, w)
	l.mu.Unlock()
}

// summary sums errs up: "CODE: N (examples)".
func (l *fleetLoad) summary(errs *fleetErrors) (total int, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for c, n := range errs.n {
		total += n
		parts = append(parts, fmt.Sprintf("%s: %d (%s)", c, n, strings.Join(errs.examples[c], "; ")))
	}
	slices.Sort(parts)
	return total, strings.Join(parts, ", ")
}

// verify reads every acknowledged write back, whole, through the fleet.
func (l *fleetLoad) verify(t testing.TB, addr string) {
	conn := dialFleet(t, addr)
	bc, dc := grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn)
	ctx := t.Context()
	work := make(chan fleetWrite)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 16 {
		wg.Go(func() {
			for w := range work {
				got, err := readBlob(ctx, bc, w.blob)
				if err != nil || !bytes.Equal(got, fleetBlob(w.seed, w.seq, w.size)) {
					if bad.Add(1) <= 5 {
						t.Errorf("acknowledged blob %s (%d bytes): read back %d bytes, %v", w.blob, w.size, len(got), err)
					}
					continue
				}
				if w.root == (castore.Digest{}) {
					continue
				}
				if dir, err := dc.Get(ctx, w.root); err != nil || dir.Digest() != w.root {
					if bad.Add(1) <= 5 {
						t.Errorf("acknowledged directory %s: %v", w.root, err)
					}
				}
			}
		})
	}
	for _, w := range l.acked {
		work <- w
	}
	close(work)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of %d acknowledged writes do not read back whole", n, len(l.acked))
	}
}

// fleetClients is the load of the kill test: 200 clients, each calling
// every 20 ms at most.
const fleetClients = 200

// During a load of 200 clients over the three, one frontend is killed
// (SIGKILL) and later started again on its address. No read fails;
// writes fail with UNAVAILABLE only (those in flight on the killed one);
// every acknowledged write reads back whole; the restarted frontend gets
// calls again within its connection age.
func testFleetKill(t *testing.T, fs []*fleetFrontend, addr string) {
	l := newFleetLoad(t, addr)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now()
	wait := l.run(ctx, t, addr, fleetClients, 20*time.Millisecond)
	imports := runImports(ctx, t, addr)

	time.Sleep(3 * time.Second)
	victim := fs[0]
	atKill := l.reads.Load() + l.writes.Load()
	killedAt := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.exited
	victim.exited <- nil // for its cleanup
	time.Sleep(3 * time.Second)
	victim.start(t)
	readyAt := time.Now()
	var rebalance time.Duration
	for {
		if victim.calls(t) > 0 {
			rebalance = time.Since(readyAt)
			break
		}
		if time.Since(readyAt) > 4*fleetConnAge {
			t.Errorf("the restarted frontend got no calls within %v", 4*fleetConnAge)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	var served []int64
	for _, f := range fs {
		served = append(served, f.calls(t))
	}
	cancel()
	wait()
	elapsed := time.Since(start)
	imports.check(t)

	reads, writes := l.reads.Load(), l.writes.Load()
	nr, rerrs := l.summary(&l.readErrs)
	nw, werrs := l.summary(&l.writeErrs)
	t.Logf("%d clients, %.1f s (killed at %.1f s after %d calls, back %.1f s later): %d reads, %d writes (blob and directory Puts), %.0f calls/s",
		fleetClients, elapsed.Seconds(), killedAt.Sub(start).Seconds(), atKill, readyAt.Sub(killedAt).Seconds(), reads, writes, float64(reads+writes)/elapsed.Seconds())
	t.Logf("failed reads: %d [%s]; failed writes: %d [%s]", nr, rerrs, nw, werrs)
	t.Logf("the restarted frontend served its first call %v after it was ready (connection age %v); RPCs served since start, by frontend (the first restarted): %v",
		rebalance.Round(time.Millisecond), fleetConnAge, served)
	if nr > 0 {
		t.Errorf("%d reads failed: %s", nr, rerrs)
	}
	for c := range l.writeErrs.n {
		if c != codes.Unavailable {
			t.Errorf("writes failed with %s, not UNAVAILABLE: %s", c, werrs)
		}
	}
	// How soon it gets calls is a figure, not a check: the clients'
	// reconnect backoff (at most 5 s, jittered) and the machine's load
	// set it (0.35 to 1.7 s on a quiet machine, 7.8 s once with the load
	// at 14). That it gets calls at all within 4 connection ages is
	// checked above.
	l.verify(t, addr)
	t.Logf("%d acknowledged writes read back whole", len(l.acked))
}

// During a load, one frontend is told to stop (SIGTERM): it says
// NOT_SERVING, the clients move to the others, it drains and exits 0,
// and not one call fails.
func testFleetDrain(t *testing.T, fs []*fleetFrontend, addr string) {
	l := newFleetLoad(t, addr)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now()
	const clients = 100
	wait := l.run(ctx, t, addr, clients, 20*time.Millisecond)
	time.Sleep(2 * time.Second)
	victim := fs[1]
	termAt := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := victim.wait(t, 30*time.Second); code != 0 {
		t.Errorf("serve exited %d after SIGTERM:\n%s", code, victim.stderr.String())
	}
	stopped := time.Since(termAt)
	time.Sleep(time.Second)
	cancel()
	wait()
	elapsed := time.Since(start)
	nr, rerrs := l.summary(&l.readErrs)
	nw, werrs := l.summary(&l.writeErrs)
	t.Logf("%d clients, %.1f s, SIGTERM at %.1f s, exited %.1f s later: %d reads, %d writes, %.0f calls/s; failed reads %d [%s], failed writes %d [%s]",
		clients, elapsed.Seconds(), termAt.Sub(start).Seconds(), stopped.Seconds(), l.reads.Load(), l.writes.Load(),
		float64(l.reads.Load()+l.writes.Load())/elapsed.Seconds(), nr, rerrs, nw, werrs)
	if nr+nw > 0 {
		t.Errorf("calls failed while a frontend drained: reads %s; writes %s", rerrs, werrs)
	}
	l.verify(t, addr)
}

// On SIGTERM, serve's health service says NOT_SERVING at once, and for
// --drain-delay serve still answers calls and takes new connections;
// then it stops as before and exits 0.
func TestServeDrainDelay(t *testing.T) {
	s := startServeChild(t, t.TempDir(), "--drain-delay", "3s")
	conn := dialFleet(t, s.addr)
	health := healthpb.NewHealthClient(conn)
	check := func() healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("health check: %v", err)
		}
		return resp.GetStatus()
	}
	if st := check(); st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before SIGTERM: %s", st)
	}
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, "msg=draining", 2*time.Second)
	if st := check(); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health while draining: %s, want NOT_SERVING", st)
	}
	if _, err := grpcapi.NewBlobClient(conn).Has(t.Context(), castore.Sum([]byte("x"))); err != nil {
		t.Errorf("a call while draining: %v", err)
	}
	late := dialFleet(t, s.addr)
	if _, err := grpcapi.NewBlobClient(late).Has(t.Context(), castore.Sum([]byte("x"))); err != nil {
		t.Errorf("a call on a new connection while draining: %v", err)
	}
	if strings.Contains(s.stderr.String(), "shutting down") {
		t.Errorf("serve stopped before its drain delay was over:\n%s", s.stderr.String())
	}
	if code := s.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, s.stderr.String())
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("serve exited %v after SIGTERM, before its 3 s drain delay", d)
	}
}

// The commands take a list of frontends wherever they take a server: an
// import and reads through two frontends on one store.
func TestCLIFleetAddress(t *testing.T) {
	c := newCLI(t)
	store := t.TempDir()
	config := filepath.Join(t.TempDir(), "fleet.yaml")
	cfg := fmt.Sprintf(`blobservices:
  near: {type: memory}
  far: {type: objectstore, url: "file://%[1]s/blobs"}
  default: {type: combined, near: near, far: far}
directoryservices:
  near: {type: memory}
  far: {type: objectstore, url: "file://%[1]s/dirs"}
  default: {type: cache, near: near, far: far}
refservices:
  default: {type: objectstore, url: "file://%[1]s/refs"}
`, store)
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for range 2 {
		addr := c.serve("--config", config)
		hosts = append(hosts, strings.TrimPrefix(addr, "grpc+http://"))
	}
	// Imported through the first: the second's cache has not seen the
	// closure, and the store (bundles) finds only its root.
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = "grpc+http://" + hosts[0]
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = "grpc+http://" + hosts[0]
	root := strings.TrimSpace(c.ok("import", fixtureTree(t)))
	fleet := "grpc+http://" + strings.Join(hosts, ",")
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = fleet
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = fleet
	for range 4 {
		if ls := c.ok("ls", "-R", root); !strings.Contains(ls, "keep/tool\n") {
			t.Errorf("ls -R through the fleet: %q", ls)
		}
	}
	if out := c.ok("cat", root+"/keep/tool"); out != "#!/bin/sh\necho hi\n" {
		t.Errorf("cat through the fleet: %q", out)
	}
	if out := c.ok("export", "--tar", root+"/keep"); !strings.Contains(out, "echo hi") {
		t.Errorf("export --tar of a subdirectory through the fleet: %d bytes", len(out))
	}
	// Each frontend alone has it all.
	for _, h := range hosts {
		c.env["CASTORE_BLOB_SERVICE_ADDR"] = "grpc+http://" + h
		c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = "grpc+http://" + h
		if out := c.ok("cat", root+"/keep/tool"); out != "#!/bin/sh\necho hi\n" {
			t.Errorf("cat through %s: %q", h, out)
		}
	}
}

// fleetImports is `castore import` run again and again through the fleet
// (in process), each of a new tree of 20 files.
type fleetImports struct {
	c     *cli
	done  chan struct{}
	mu    sync.Mutex
	roots []string // of import i
	fails []string
}

const importFiles = 20

func importFile(i, j int) []byte { return fleetBlob(uint64(5000+i), uint64(j), 20<<10) }

func runImports(ctx context.Context, t *testing.T, addr string) *fleetImports {
	im := &fleetImports{c: newCLI(t), done: make(chan struct{})}
	im.c.env["CASTORE_BLOB_SERVICE_ADDR"] = addr
	im.c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = addr
	base := t.TempDir()
	go func() {
		defer close(im.done)
		for i := 0; ctx.Err() == nil; i++ {
			dir := filepath.Join(base, strconv.Itoa(i))
			if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
				panic(err)
			}
			for j := range importFiles {
				if err := os.WriteFile(filepath.Join(dir, "sub", fmt.Sprintf("f%d", j)), importFile(i, j), 0o644); err != nil {
					panic(err)
				}
			}
			code, out, errs := im.c.run(nil, "import", dir)
			im.mu.Lock()
			if code != 0 {
				im.fails = append(im.fails, errs)
			}
			im.roots = append(im.roots, strings.TrimSpace(out))
			im.mu.Unlock()
		}
	}()
	return im
}

// check waits for the last import, and wants every one to have succeeded
// (a write that failed with UNAVAILABLE made again from the tree) and its
// files read back through the fleet.
func (im *fleetImports) check(t *testing.T) {
	<-im.done
	if len(im.fails) > 0 {
		t.Errorf("%d of %d imports failed; the first: %s", len(im.fails), len(im.roots), im.fails[0])
	}
	for i, root := range im.roots {
		if root == "" {
			continue
		}
		for j := range importFiles {
			code, out, errs := im.c.run(nil, "cat", fmt.Sprintf("%s/sub/f%d", root, j))
			if code != 0 || out != string(importFile(i, j)) {
				t.Errorf("import %d (%s): sub/f%d reads back %d bytes, exit %d: %s", i, root, j, len(out), code, errs)
				return
			}
		}
	}
	t.Logf("%d imports of %d files each through the fleet, every one whole", len(im.roots), importFiles)
}
