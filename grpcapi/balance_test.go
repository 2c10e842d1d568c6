package grpcapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/objectstore/memstore"
)

// frontend is one of a fleet of in-process servers over shared stores,
// with a health service and a count of the calls it took (health checks
// aside).
type frontend struct {
	addr   string
	srv    *grpc.Server
	health *health.Server
	calls  atomic.Int64
}

func startFleet(t *testing.T, n int, blobs castore.BlobService, dirs castore.DirectoryService, opts ...grpc.ServerOption) []*frontend {
	t.Helper()
	var fs []*frontend
	for range n {
		f := &frontend{}
		count := func(method string) {
			if !strings.HasPrefix(method, "/grpc.health.") {
				f.calls.Add(1)
			}
		}
		f.srv = grpc.NewServer(append(append(grpcapi.ServerOptions(), opts...),
			grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				count(info.FullMethod)
				return h(ctx, req)
			}),
			grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				count(info.FullMethod)
				return h(srv, ss)
			}))...)
		grpcapi.Register(f.srv, blobs, dirs)
		f.health = health.NewServer()
		healthpb.RegisterHealthServer(f.srv, f.health)
		l := listenTCP(t)
		f.addr = l.Addr().String()
		done := make(chan struct{})
		go func() { defer close(done); f.srv.Serve(l) }()
		t.Cleanup(func() { f.srv.Stop(); <-done })
		fs = append(fs, f)
	}
	return fs
}

func fleetAddr(fs []*frontend) string {
	var hosts []string
	for _, f := range fs {
		hosts = append(hosts, f.addr)
	}
	return "grpc+http://" + strings.Join(hosts, ",")
}

// A client given a list of frontends spreads its calls over all of
// them; one that says NOT_SERVING, and one that stopped, get no more
// calls, and no call fails; one serving again gets calls again.
func TestFleetBalances(t *testing.T) {
	blobs := chunkstore.NewMemory()
	fs := startFleet(t, 3, blobs, dirstore.NewMemory())
	conn := dial(t, fleetAddr(fs))
	bc := grpcapi.NewBlobClient(conn)
	ctx := ctxT(t)
	d := castore.Sum([]byte("nobody has this"))

	calls := func(n int) []int64 {
		t.Helper()
		before := make([]int64, len(fs))
		for i, f := range fs {
			before[i] = f.calls.Load()
		}
		for range n {
			if _, err := bc.Has(ctx, d); err != nil {
				t.Fatalf("Has: %v", err)
			}
		}
		got := make([]int64, len(fs))
		for i, f := range fs {
			got[i] = f.calls.Load() - before[i]
		}
		return got
	}
	// The connection is ready when one frontend is; let all three be.
	waitFor(t, "calls to reach every frontend", func() bool {
		c := calls(30)
		return c[0] > 0 && c[1] > 0 && c[2] > 0
	})
	if got := calls(300); got[0] != 100 || got[1] != 100 || got[2] != 100 {
		t.Errorf("300 calls over 3 frontends: %v, want 100 each", got)
	}

	fs[0].health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	waitFor(t, "the NOT_SERVING frontend to get no calls", func() bool { return calls(30)[0] == 0 })
	if got := calls(200); got[0] != 0 || got[1] != 100 || got[2] != 100 {
		t.Errorf("with frontend 0 NOT_SERVING, 200 calls: %v, want 0, 100, 100", got)
	}

	fs[1].srv.Stop()
	if got := calls(100); got[0] != 0 || got[1] != 0 || got[2] != 100 {
		t.Errorf("with frontend 0 NOT_SERVING and 1 stopped, 100 calls: %v, want 0, 0, 100", got)
	}

	fs[0].health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	waitFor(t, "frontend 0 to get calls again", func() bool { return calls(30)[0] > 0 })
}

// A name that resolves to one address is dialled without health checks:
// a lone frontend that says NOT_SERVING (draining) still answers.
func TestSingleFrontendNoHealthCheck(t *testing.T) {
	fs := startFleet(t, 1, chunkstore.NewMemory(), nil)
	fs[0].health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	conn := dial(t, fleetAddr(fs))
	if _, err := grpcapi.NewBlobClient(conn).Has(ctxT(t), castore.EmptyDigest); err != nil {
		t.Fatalf("Has on a lone NOT_SERVING frontend: %v", err)
	}
	// Given as localhost, the name goes through DNS, which gives one
	// address here too (127.0.0.1, or ::1 where nothing listens).
	_, port, _ := net.SplitHostPort(fs[0].addr)
	conn = dial(t, "grpc+http://127.0.0.1:"+port)
	if _, err := grpcapi.NewBlobClient(conn).Has(ctxT(t), castore.EmptyDigest); err != nil {
		t.Fatalf("Has through DNS on a lone NOT_SERVING frontend: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// flaky serves a blob and a closure, and its streams break (UNAVAILABLE
// after the first message) while breaks > 0, one break per call; unary
// calls fail with UNAVAILABLE before any answer while refusals > 0.
type flaky struct {
	pb.UnimplementedBlobServiceServer
	pb.UnimplementedChunkServiceServer
	data     []byte
	dirs     []*castore.Directory
	chunks   map[castore.Digest][]byte
	breaks   atomic.Int32
	refusals atomic.Int32
	mu       sync.Mutex
	calls    map[string]int
	batches  [][]castore.Digest
	putBytes int
}

func (f *flaky) count(m string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[m]++
}

func (f *flaky) callCount(m string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[m]
}

func (f *flaky) breakNow() bool { return f.breaks.Add(-1) >= 0 }

var errBroken = status.Error(codes.Unavailable, "the frontend went away mid-stream")

func (f *flaky) Stat(ctx context.Context, req *pb.StatBlobRequest) (*pb.StatBlobResponse, error) {
	f.count("Stat")
	if f.refusals.Add(-1) >= 0 {
		return nil, status.Error(codes.Unavailable, "not now")
	}
	return &pb.StatBlobResponse{}, nil
}

func (f *flaky) Read(req *pb.ReadBlobRequest, stream grpc.ServerStreamingServer[pb.BlobChunk]) error {
	f.count("Read")
	half := len(f.data) / 2
	if err := stream.Send(&pb.BlobChunk{Data: f.data[:half]}); err != nil {
		return err
	}
	if f.breakNow() {
		return errBroken
	}
	return stream.Send(&pb.BlobChunk{Data: f.data[half:]})
}

func (f *flaky) Put(stream grpc.ClientStreamingServer[pb.BlobChunk, pb.PutBlobResponse]) error {
	f.count("Put")
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.putBytes += len(msg.GetData())
		f.mu.Unlock()
	}
	return errBroken
}

func (f *flaky) ReadCompressedBatch(req *pb.ReadCompressedBatchRequest, stream grpc.ServerStreamingServer[pb.CompressedChunk]) error {
	f.count("ReadCompressedBatch")
	var ds []castore.Digest
	for _, b := range req.GetDigests() {
		d, _ := castore.DigestFromBytes(b)
		ds = append(ds, d)
	}
	f.mu.Lock()
	f.batches = append(f.batches, ds)
	f.mu.Unlock()
	for i, d := range ds {
		if i == 2 && f.breakNow() {
			return errBroken
		}
		if err := stream.Send(&pb.CompressedChunk{Digest: d[:], Data: f.chunks[d]}); err != nil {
			return err
		}
	}
	return nil
}

// flakyDirs is flaky's directory service.
type flakyDirs struct {
	pb.UnimplementedDirectoryServiceServer
	f *flaky
}

func (fd flakyDirs) Get(req *pb.GetDirectoryRequest, stream grpc.ServerStreamingServer[pb.Directory]) error {
	f := fd.f
	f.count("Get")
	if !req.GetRecursive() && f.breakNow() {
		// The response began (headers), then the frontend went.
		if err := stream.SendHeader(metadata.MD{}); err != nil {
			return err
		}
		return errBroken
	}
	for i, dir := range f.dirs {
		if i == 2 && f.breakNow() {
			return errBroken
		}
		if err := stream.Send(pb.FromDirectory(dir)); err != nil {
			return err
		}
		if !req.GetRecursive() {
			break
		}
	}
	return nil
}

// A read whose stream breaks after it began (UNAVAILABLE after the first
// message) is started again, at most 3 times: a whole blob, a batch's
// remaining chunks, a directory, a closure (each directory yielded
// once). Stat is retried by gRPC's policy. A Put that fails is reported
// and not sent again.
func TestReadsRestartBrokenStreams(t *testing.T) {
	f := &flaky{data: randBytes(3<<20, 9), chunks: map[castore.Digest][]byte{}}
	d := diamond(t)
	f.dirs = []*castore.Directory{d[3], d[1], d[2], d[0]} // root first
	s := grpc.NewServer(grpcapi.ServerOptions()...)
	pb.RegisterBlobServiceServer(s, f)
	pb.RegisterDirectoryServiceServer(s, flakyDirs{f: f})
	pb.RegisterChunkServiceServer(s, f)
	l := listenTCP(t)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	conn := dial(t, "grpc+http://"+l.Addr().String())
	bc := grpcapi.NewBlobClient(conn)
	bc.PlainReads = true
	dc := grpcapi.NewDirectoryClient(conn)
	ctx := ctxT(t)
	blob := castore.Sum(f.data)

	readBlob := func() error {
		r, err := bc.Open(ctx, blob)
		if err != nil {
			return err
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err == nil && !bytes.Equal(got, f.data) {
			err = fmt.Errorf("read %d bytes, not the blob", len(got))
		}
		return err
	}

	t.Run("blob", func(t *testing.T) {
		f.breaks.Store(3)
		if err := readBlob(); err != nil {
			t.Fatalf("read with 3 breaks: %v", err)
		}
		if n := f.callCount("Read"); n != 4 {
			t.Errorf("%d Read calls, want 4", n)
		}
		f.breaks.Store(4)
		err := readBlob()
		if status.Code(err) != codes.Unavailable || !errors.Is(err, castore.ErrUnavailable) {
			t.Fatalf("read with 4 breaks = %v, want UNAVAILABLE (castore.ErrUnavailable)", err)
		}
		if n := f.callCount("Read"); n != 8 {
			t.Errorf("%d Read calls, want 4 more", n-4)
		}
	})

	t.Run("stat", func(t *testing.T) {
		before := f.callCount("Stat")
		f.refusals.Store(3)
		if _, err := bc.Has(ctx, blob); err != nil {
			t.Fatalf("Has with 3 refusals: %v", err)
		}
		if n := f.callCount("Stat") - before; n != 4 {
			t.Errorf("%d Stat calls, want 4", n)
		}
	})

	t.Run("batch", func(t *testing.T) {
		var ds []castore.Digest
		for i := range 5 {
			c := []byte(fmt.Sprintf("chunk %d", i))
			d := castore.Sum(c)
			f.chunks[d] = c
			ds = append(ds, d)
		}
		bc.PlainReads = false
		defer func() { bc.PlainReads = true }()
		f.breaks.Store(1)
		var got []castore.Digest
		err := bc.ReadCompressedChunks(ctx, ds, func(d castore.Digest, comp []byte) error {
			if !bytes.Equal(comp, f.chunks[d]) {
				t.Errorf("chunk %s: wrong data", d)
			}
			got = append(got, d)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(ds) {
			t.Errorf("chunks handed over: %v, want %v once each in order", got, ds)
		}
		// The stream broke after chunk 1's first message: chunk 0 was
		// handed over, chunk 1 (whose data could have gone on) is asked
		// again.
		if len(f.batches) != 2 || fmt.Sprint(f.batches[1]) != fmt.Sprint(ds[1:]) {
			t.Errorf("batches asked: %v, want all then the last 4", f.batches)
		}
	})

	t.Run("directory", func(t *testing.T) {
		root := f.dirs[0].Digest()
		f.breaks.Store(1)
		if _, err := dc.Get(ctx, root); err != nil {
			t.Fatal(err)
		}
		if n := f.callCount("Get"); n != 2 {
			t.Errorf("%d Get calls, want 2", n)
		}
		f.breaks.Store(2)
		var got []castore.Digest
		for dir, err := range dc.GetRecursive(ctx, root) {
			if err != nil {
				t.Fatalf("closure with 2 breaks: %v", err)
			}
			got = append(got, dir.Digest())
		}
		var want []castore.Digest
		for _, d := range f.dirs {
			want = append(want, d.Digest())
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("closure yielded %v, want %v once each", got, want)
		}
	})

	t.Run("put is not retried", func(t *testing.T) {
		w := bc.Create(ctx)
		w.Write(f.data)
		_, err := w.Close()
		if status.Code(err) != codes.Unavailable || !errors.Is(err, castore.ErrUnavailable) {
			t.Fatalf("Put answered UNAVAILABLE = %v, want UNAVAILABLE (castore.ErrUnavailable)", err)
		}
		if n := f.callCount("Put"); n != 1 {
			t.Errorf("%d Put calls, want 1", n)
		}
		if errors.Is(err, castore.ErrCorrupt) {
			t.Error("a failed Put reported as corruption")
		}
	})
}

// A frontend whose host stops answering (no reset: the frozen proxy
// holds its connections) costs its calls in flight a keepalive timeout,
// then they are answered by the other; no read fails, and later calls go
// to the other only. (grpc-go pings no sooner than 10 s after the last
// frame, so this test takes about 11 s.)
func TestFleetFrozenFrontend(t *testing.T) {
	defer grpcapi.SetClientKeepalive(time.Second, time.Second)()
	blobs := chunkstore.NewMemory()
	fs := startFleet(t, 2, blobs, nil)
	proxy := newFreezeProxy(t, fs[0].addr)
	conn := dial(t, "grpc+http://"+proxy.l.Addr().String()+","+fs[1].addr)
	bc := grpcapi.NewBlobClient(conn)
	ctx := ctxT(t)
	data := randBytes(1<<20, 3)
	w := bc.Create(ctx)
	w.Write(data)
	d, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "calls to reach both frontends", func() bool {
		for range 10 {
			bc.Has(ctx, d)
		}
		return fs[0].calls.Load() > 0 && fs[1].calls.Load() > 0
	})

	proxy.freeze()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 20 {
		wg.Go(func() {
			r, err := bc.Open(ctx, d)
			if err == nil {
				var got []byte
				got, err = io.ReadAll(r)
				r.Close()
				if err == nil && !bytes.Equal(got, data) {
					err = fmt.Errorf("read %d bytes that are not the blob", len(got))
				}
			}
			if err != nil && failed.Add(1) <= 3 {
				t.Errorf("read with a frozen frontend: %v", err)
			}
		})
	}
	wg.Wait()
	t.Logf("20 reads with one of two frontends frozen took %v", time.Since(start).Round(time.Millisecond))
	// The frozen frontend's reconnects hang in the handshake: it is not
	// picked, and calls are answered at once.
	start = time.Now()
	for range 20 {
		if _, err := bc.Has(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("20 calls after the frozen frontend's connection was given up took %v", d)
	}
}

// A server on bundles finds only roots, and so does a fresh client; once
// the client has read a root, it finds the directories below it too (Get
// and GetRecursive), read out of the root's closure. Over a fleet whose
// frontends find subdirectories only of closures their caches hold, a
// client's Get of each subdirectory of a root it read is answered,
// whichever frontend it reaches.
func TestDirectoryClientFindsBelowRoots(t *testing.T) {
	far, err := dirstore.NewBundles(memstore.New(), 0)
	if err != nil {
		t.Fatal(err)
	}
	blobs := chunkstore.NewMemory()
	ctx := ctxT(t)
	d := diamond(t) // leaf, a, b, root
	leaf, sub, root := d[0], d[1], d[3]

	rootsOnly := startFleet(t, 1, blobs, far)[0]
	p := grpcapi.NewDirectoryClient(dial(t, "grpc+http://"+rootsOnly.addr)).NewPutter(ctx)
	for _, dir := range d {
		must(t, p.Put(dir))
	}
	if _, err := p.Close(); err != nil {
		t.Fatal(err)
	}
	dc := grpcapi.NewDirectoryClient(dial(t, "grpc+http://"+rootsOnly.addr))
	if _, err := dc.Get(ctx, sub.Digest()); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("a fresh client's Get of a subdirectory on bundles: %v, want not found", err)
	}
	if _, err := dc.Get(ctx, castore.Sum([]byte("nothing"))); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("Get of an unknown directory: %v", err)
	}
	if _, err := dc.Get(ctx, root.Digest()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []*castore.Directory{sub, leaf} {
		if got, err := dc.Get(ctx, want.Digest()); err != nil || got.Digest() != want.Digest() {
			t.Fatalf("Get of %s below a root read: %v", want.Digest(), err)
		}
	}
	var got []castore.Digest
	for dir, err := range dc.GetRecursive(ctx, sub.Digest()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, dir.Digest())
	}
	if want := []castore.Digest{sub.Digest(), leaf.Digest()}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GetRecursive of a subdirectory below a root read: %v, want %v", got, want)
	}
	if _, err := closure.Read(ctx, dc, sub.Digest()); err != nil {
		t.Errorf("closure.Read of a subdirectory: %v", err)
	}

	// A fleet: a frontend with a cache over the bundles, and one on them
	// alone.
	cached := startFleet(t, 1, blobs, dirstore.NewCache(dirstore.NewMemory(), far))[0]
	fleet := grpcapi.NewDirectoryClient(dial(t, "grpc+http://"+cached.addr+","+rootsOnly.addr))
	if _, err := fleet.Get(ctx, root.Digest()); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		// In the order a walk down from the root asks.
		want := []*castore.Directory{d[1], d[2], d[0]}[i%3]
		if got, err := fleet.Get(ctx, want.Digest()); err != nil || got.Digest() != want.Digest() {
			t.Fatalf("#%d: Get of %s through the fleet: %v", i, want.Digest(), err)
		}
	}
}

// Over TLS, a list of frontends checks each one's certificate against its
// own host, and spreads the calls over them; a client trusting another CA
// reaches none.
func TestFleetTLS(t *testing.T) {
	ca, other := newPKI(t, "fleet"), newPKI(t, "other")
	cert, key := ca.issue(t, "server", false)
	cfg, err := grpcapi.ServerTLS(cert, key, "")
	must(t, err)
	fs := startFleet(t, 2, chunkstore.NewMemory(), nil, grpc.Creds(credentials.NewTLS(cfg)))
	// The certificate names 127.0.0.1: the hosts are written so.
	addr := "grpc+https://" + fs[0].addr + "," + fs[1].addr
	ctx := ctxT(t)
	conn, err := grpcapi.Dial(ctx, addr+"?wait-connect=1&ca="+ca.caFile())
	must(t, err)
	defer conn.Close()
	bc := grpcapi.NewBlobClient(conn)
	waitFor(t, "calls over TLS to reach both frontends", func() bool {
		for range 10 {
			if _, err := bc.Has(ctx, castore.EmptyDigest); err != nil {
				t.Fatal(err)
			}
		}
		return fs[0].calls.Load() > 0 && fs[1].calls.Load() > 0
	})
	bad, err := grpcapi.Dial(ctx, addr+"?ca="+other.caFile(), noRetry)
	must(t, err)
	defer bad.Close()
	if _, err := grpcapi.NewBlobClient(bad).Has(ctx, castore.EmptyDigest); status.Code(err) != codes.Unavailable {
		t.Errorf("a client trusting another CA: %v, want UNAVAILABLE", err)
	}
}
