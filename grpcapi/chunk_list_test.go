package grpcapi_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/castorepb/snixpb"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
)

func listed(chunks []castore.ChunkMeta) []*pb.ListedChunk {
	out := make([]*pb.ListedChunk, len(chunks))
	for i, c := range chunks {
		out[i] = &pb.ListedChunk{Digest: c.Digest[:], Size: c.Size}
	}
	return out
}

// putList sends one PutChunkList of parts, digest (if not nil) in the
// last message, and returns the server's answer.
func putList(ctx context.Context, cc pb.ChunkServiceClient, digest []byte, parts ...[]*pb.ListedChunk) error {
	s, err := cc.PutChunkList(ctx)
	if err != nil {
		return err
	}
	for i, p := range parts {
		req := &pb.PutChunkListRequest{Chunks: p}
		if i == len(parts)-1 {
			req.Digest = digest
		}
		if s.Send(req) != nil {
			break // CloseAndRecv says why
		}
	}
	_, err = s.CloseAndRecv()
	return err
}

// PutChunkList on the wire: a blob named in parts is recorded as its
// chunks; every refusal stores nothing, with PutBlob's codes.
func TestPutChunkListWire(t *testing.T) {
	ctx := ctxT(t)
	data := make([]byte, 6<<20)
	rand.NewChaCha8([32]byte{70}).Read(data)
	d := castore.Sum(data)
	cs, _, chunks := storedChunks(t, data)
	e := newWireEnv(t, cs, dirstore.NewMemory())
	cc := pb.NewChunkServiceClient(e.conn)
	all := listed(chunks)

	notStored := func(what string, d castore.Digest) {
		t.Helper()
		if ok, err := cs.Has(ctx, d); ok || err != nil {
			t.Errorf("after %s: Has = %v, %v; want nothing stored", what, ok, err)
		}
	}
	// Refusals first, while the blob is not stored.
	other := castore.Sum([]byte("another blob"))
	lacked := castore.Sum([]byte("a chunk never stored"))
	withLacked := append(listed(chunks[:2]), &pb.ListedChunk{Digest: lacked[:], Size: 10})
	withLacked = append(withLacked, all[2:]...)
	wrongSize := listed(chunks)
	wrongSize[1] = &pb.ListedChunk{Digest: chunks[1].Digest[:], Size: chunks[1].Size + 1}
	for _, tc := range []struct {
		name   string
		digest []byte
		parts  [][]*pb.ListedChunk
		code   codes.Code
	}{
		{"a wrong digest", other[:], [][]*pb.ListedChunk{all[:3], all[3:]}, codes.InvalidArgument},
		{"a chunk the server lacks", d[:], [][]*pb.ListedChunk{withLacked[:3], withLacked[3:]}, codes.FailedPrecondition},
		{"a chunk of the wrong size", d[:], [][]*pb.ListedChunk{wrongSize}, codes.InvalidArgument},
		{"no digest", nil, [][]*pb.ListedChunk{all[:3], all[3:]}, codes.InvalidArgument},
		{"a short digest", d[:31], [][]*pb.ListedChunk{all}, codes.InvalidArgument},
		{"no chunks for a blob that has some", d[:], [][]*pb.ListedChunk{nil}, codes.InvalidArgument},
		{"a chunk of size 0", d[:], [][]*pb.ListedChunk{append(listed(chunks[:1]), &pb.ListedChunk{Digest: lacked[:]})}, codes.InvalidArgument},
		{"a chunk over the size bound", d[:], [][]*pb.ListedChunk{{{Digest: lacked[:], Size: chunkfmt.MaxChunkObject + 1}}}, codes.InvalidArgument},
		{"a chunk's short digest", d[:], [][]*pb.ListedChunk{{{Digest: lacked[:8], Size: 10}}}, codes.InvalidArgument},
	} {
		err := putList(ctx, cc, tc.digest, tc.parts...)
		wantCode(t, "PutChunkList with "+tc.name, err, tc.code)
		notStored(tc.name, d)
		notStored(tc.name, other)
	}
	restore := grpcapi.SetMaxListChunks(len(chunks) - 1)
	err := putList(ctx, cc, d[:], all[:2], all[2:])
	restore()
	wantCode(t, "PutChunkList over the bound of chunks", err, codes.InvalidArgument)
	notStored("too many chunks", d)

	if err := putList(ctx, cc, castore.EmptyDigest[:], nil); err != nil {
		t.Errorf("PutChunkList of the empty blob: %v", err)
	}
	if err := putList(ctx, cc, d[:], all[:1], all[1:4], nil, all[4:]); err != nil {
		t.Fatalf("PutChunkList in four parts: %v", err)
	}
	if got, err := cs.Chunks(ctx, d); err != nil || len(got) != len(chunks) {
		t.Errorf("the blob is kept as %d chunks, %v; want %d", len(got), err, len(chunks))
	}
	if got := readBack(t, cs, d); !bytes.Equal(got, data) {
		t.Error("the blob put as its chunk list reads back differently")
	}
}

// The server hashes the chunks of a PutChunkList as their names arrive,
// before the digest: with all but the last chunk named, it reads each of
// them (compressed, once); the digest and the last chunk then leave one
// to read, and none is read verified on its own.
func TestPutChunkListHashesAsItArrives(t *testing.T) {
	ctx := ctxT(t)
	data := make([]byte, 6<<20)
	rand.NewChaCha8([32]byte{71}).Read(data)
	d := castore.Sum(data)
	cs, _, chunks := storedChunks(t, data)
	e := newWireEnv(t, cs, dirstore.NewMemory())
	s, err := pb.NewChunkServiceClient(e.conn).PutChunkList(ctx)
	must(t, err)
	n := len(chunks) - 1
	must(t, s.Send(&pb.PutChunkListRequest{Chunks: listed(chunks[:n])}))
	for deadline := time.Now().Add(20 * time.Second); cs.compressed.Load() < int64(n); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("with %d chunks named and no digest, the server read %d of them", n, cs.compressed.Load())
		}
	}
	must(t, s.Send(&pb.PutChunkListRequest{Chunks: listed(chunks[n:]), Digest: d[:]}))
	if _, err := s.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	if got := cs.compressed.Load(); got != int64(len(chunks)) || cs.verified.Load() != 0 {
		t.Errorf("PutChunkList of %d chunks read %d compressed and %d verified; want %d and 0", len(chunks), got, cs.verified.Load(), len(chunks))
	}
	if ok, err := cs.Has(ctx, d); !ok || err != nil {
		t.Errorf("after PutChunkList: Has = %v, %v", ok, err)
	}
}

// noLists is a ChunkService without PutChunkList, as a castore server
// from before it.
type noLists struct{ *grpcapi.ChunkServer }

func (noLists) PutChunkList(grpc.ClientStreamingServer[pb.PutChunkListRequest, pb.PutChunkListResponse]) error {
	return status.Error(codes.Unimplemented, "unknown method PutChunkList")
}

// methodCounts counts the calls a server answers, by method.
type methodCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *methodCounts) add(m string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[m]++
}

func (c *methodCounts) get(m string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[m]
}

// A server without PutChunkList gets the blob with PutBlob, and the
// client asks it only once.
func TestCreateChunkedWithoutPutChunkList(t *testing.T) {
	blobs := chunked(t)
	var calls methodCounts
	s := grpc.NewServer(append(grpcapi.ServerOptions(),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			calls.add(info.FullMethod)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			calls.add(info.FullMethod)
			return h(srv, ss)
		}))...)
	pb.RegisterChunkServiceServer(s, noLists{grpcapi.NewChunkServer(blobs)})
	snixpb.RegisterBlobStoreServiceServer(s, grpcapi.NewBlobStoreServer(blobs))
	pb.RegisterBlobServiceServer(s, grpcapi.NewBlobServer(blobs))
	l := listenTCP(t)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	bc := grpcapi.NewBlobClient(dial(t, "grpc+http://"+l.Addr().String()))
	for i := range 2 {
		data := randBytes(3<<20, byte(80+i))
		w, err := bc.CreateChunked(ctxT(t))
		must(t, err)
		_, err = w.Write(data)
		must(t, err)
		d, err := w.Close()
		must(t, err)
		if d != castore.Sum(data) {
			t.Fatalf("blob %d stored as %s", i, d)
		}
		if got := readBack(t, blobs, d); !bytes.Equal(got, data) {
			t.Fatalf("blob %d reads back differently", i)
		}
	}
	lists, puts := calls.get("/castore.v1.ChunkService/PutChunkList"), calls.get("/snix.castore.v1.BlobStoreService/PutBlob")
	if lists != 1 || puts != 2 {
		t.Errorf("two blobs cut here against a server without PutChunkList: %d PutChunkList and %d PutBlob calls; want 1 and 2", lists, puts)
	}
}

// namesFirst is a ChunkService whose PutCompressed, while hold is set,
// waits until a PutChunkList has named chunks (and fails after a while
// if none does).
type namesFirst struct {
	*grpcapi.ChunkServer
	hold  *atomic.Bool
	once  *sync.Once
	named chan struct{}
}

func (n namesFirst) PutCompressed(ctx context.Context, req *pb.PutCompressedRequest) (*pb.PutCompressedResponse, error) {
	if n.hold.Load() {
		select {
		case <-n.named:
		case <-time.After(20 * time.Second):
			return nil, status.Error(codes.FailedPrecondition, "no chunks named on a PutChunkList before this chunk went up")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return n.ChunkServer.PutCompressed(ctx, req)
}

func (n namesFirst) PutChunkList(stream grpc.ClientStreamingServer[pb.PutChunkListRequest, pb.PutChunkListResponse]) error {
	return n.ChunkServer.PutChunkList(namingStream{stream, n})
}

type namingStream struct {
	grpc.ClientStreamingServer[pb.PutChunkListRequest, pb.PutChunkListResponse]
	n namesFirst
}

func (s namingStream) Recv() (*pb.PutChunkListRequest, error) {
	req, err := s.ClientStreamingServer.Recv()
	if err == nil && len(req.GetChunks()) > 0 {
		s.n.once.Do(func() { close(s.n.named) })
	}
	return req, err
}

// A blob cut here whose chunks the server holds up to a change has
// those named on its PutChunkList as soon as the server says it lacks
// the changed ones, before they go up: the server checks the part it
// holds while they do.
func TestCreateChunkedNamesHeldChunksFirst(t *testing.T) {
	blobs := chunked(t)
	nf := namesFirst{grpcapi.NewChunkServer(blobs), new(atomic.Bool), new(sync.Once), make(chan struct{})}
	s := grpc.NewServer(grpcapi.ServerOptions()...)
	pb.RegisterChunkServiceServer(s, nf)
	snixpb.RegisterBlobStoreServiceServer(s, grpcapi.NewBlobStoreServer(blobs))
	pb.RegisterBlobServiceServer(s, grpcapi.NewBlobServer(blobs))
	l := listenTCP(t)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	bc := grpcapi.NewBlobClient(dial(t, "grpc+http://"+l.Addr().String()))
	put := func(data []byte) castore.Digest {
		t.Helper()
		w, err := bc.CreateChunked(ctxT(t))
		must(t, err)
		_, err = w.Write(data)
		must(t, err)
		d, err := w.Close()
		must(t, err)
		return d
	}
	data := randBytes(16<<20, 72)
	put(data)
	copy(data[12<<20:], randBytes(64<<10, 73)) // past the first batches
	nf.hold.Store(true)
	if d := put(data); d != castore.Sum(data) {
		t.Fatalf("the changed blob is stored as %s", d)
	}
	if got := readBack(t, blobs, castore.Sum(data)); !bytes.Equal(got, data) {
		t.Fatal("the changed blob reads back differently")
	}
}
