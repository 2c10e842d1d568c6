package grpcapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
)

// wireEnv is a real server on loopback with raw castorepb clients.
type wireEnv struct {
	blobs castore.BlobService
	dirs  castore.DirectoryService
	conn  *grpc.ClientConn
	bc    pb.BlobServiceClient
	dc    pb.DirectoryServiceClient
}

func newWireEnv(t *testing.T, blobs castore.BlobService, dirs castore.DirectoryService) *wireEnv {
	l := listenTCP(t)
	serve(t, l, blobs, dirs)
	conn := dial(t, "grpc+http://"+l.Addr().String(), noRetry)
	return &wireEnv{blobs: blobs, dirs: dirs, conn: conn, bc: pb.NewBlobServiceClient(conn), dc: pb.NewDirectoryServiceClient(conn)}
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("%s: got %v (%v), want %v", what, got, err, code)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// readAll receives a stream of data messages (BlobChunk, CompressedData)
// to its end: their bytes, and the size of each.
func readAll[M any, P interface {
	*M
	GetData() []byte
}](t *testing.T, stream grpc.ServerStreamingClient[M]) ([]byte, []int, error) {
	var out []byte
	var sizes []int
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return out, sizes, nil
		}
		if err != nil {
			return out, sizes, err
		}
		data := P(m).GetData()
		sizes = append(sizes, len(data))
		out = append(out, data...)
	}
}

func testBlobWire(t *testing.T, e *wireEnv) {
	ctx := ctxT(t)
	unknown := castore.Sum([]byte("never stored"))
	_, err := e.bc.Stat(ctx, &pb.StatBlobRequest{Digest: unknown[:]})
	wantCode(t, "Stat unknown", err, codes.NotFound)
	_, err = e.bc.Stat(ctx, &pb.StatBlobRequest{Digest: unknown[:], SendChunks: true})
	wantCode(t, "Stat unknown with chunks", err, codes.NotFound)
	_, err = e.bc.Stat(ctx, &pb.StatBlobRequest{Digest: unknown[:31]})
	wantCode(t, "Stat short digest", err, codes.InvalidArgument)
	_, err = e.bc.Stat(ctx, &pb.StatBlobRequest{})
	wantCode(t, "Stat no digest", err, codes.InvalidArgument)
	_, err = e.bc.Stat(ctx, &pb.StatBlobRequest{Digest: castore.EmptyDigest[:]})
	wantCode(t, "Stat empty blob", err, codes.OK)

	rs, err := e.bc.Read(ctx, &pb.ReadBlobRequest{Digest: unknown[:]})
	if err == nil {
		_, _, err = readAll(t, rs)
	}
	wantCode(t, "Read unknown", err, codes.NotFound)
	rs, err = e.bc.Read(ctx, &pb.ReadBlobRequest{Digest: make([]byte, 33)})
	if err == nil {
		_, _, err = readAll(t, rs)
	}
	wantCode(t, "Read long digest", err, codes.InvalidArgument)

	// Put in odd message sizes; read back in ~1 MiB messages.
	data := randBytes(3<<20+12345, 5)
	ps, err := e.bc.Put(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		k := min(len(rest), 1+len(rest)%(2<<20))
		if err := ps.Send(&pb.BlobChunk{Data: rest[:k]}); err != nil {
			t.Fatal(err)
		}
		rest = rest[k:]
	}
	resp, err := ps.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	d := castore.Sum(data)
	if !bytes.Equal(resp.Digest, d[:]) {
		t.Fatalf("Put digest %x, want %x", resp.Digest, d)
	}
	rs, err = e.bc.Read(ctx, &pb.ReadBlobRequest{Digest: d[:]})
	if err != nil {
		t.Fatal(err)
	}
	got, sizes, err := readAll(t, rs)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read back: %v, equal=%v", err, bytes.Equal(got, data))
	}
	if sizes[0] != 1<<20 {
		t.Errorf("first Read message has %d bytes, want 1 MiB", sizes[0])
	}
	// Chunks listed by Stat are readable on their own.
	st, err := e.bc.Stat(ctx, &pb.StatBlobRequest{Digest: d[:], SendChunks: true})
	if err != nil {
		t.Fatal(err)
	}
	var joined []byte
	for _, c := range st.Chunks {
		rs, err := e.bc.Read(ctx, &pb.ReadBlobRequest{Digest: c.Digest})
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := readAll(t, rs)
		if err != nil || uint64(len(b)) != c.Size {
			t.Fatalf("read chunk: %v, %d bytes of %d", err, len(b), c.Size)
		}
		joined = append(joined, b...)
	}
	if len(st.Chunks) > 0 && !bytes.Equal(joined, data) {
		t.Fatal("chunks do not join to the blob")
	}

	// A client that goes away mid-Put leaves no blob.
	partial := randBytes(2<<20, 7)
	pctx, cancel := context.WithCancel(ctx)
	ps, err = e.bc.Put(pctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Send(&pb.BlobChunk{Data: partial[:1<<20]}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server take the first message
	cancel()
	pd := castore.Sum(partial[:1<<20])
	time.Sleep(100 * time.Millisecond)
	if ok, err := e.blobs.Has(ctx, pd); err != nil || ok {
		t.Errorf("after an aborted Put, Has(first MiB) = %v, %v", ok, err)
	}
}

// dirsOf builds the closure used below: root -> {a -> leaf, b -> leaf}
// (a diamond), leaves first.
func diamond(t *testing.T) []*castore.Directory {
	leaf, err := castore.NewDirectory(castore.Entry{Name: "f", Node: castore.FileNode(castore.EmptyDigest, 0, false)})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := castore.NewDirectory(castore.Entry{Name: "leaf", Node: leaf.Node()}, castore.Entry{Name: "x", Node: castore.SymlinkNode("y")})
	b, _ := castore.NewDirectory(castore.Entry{Name: "leaf2", Node: leaf.Node()})
	root, err := castore.NewDirectory(castore.Entry{Name: "a", Node: a.Node()}, castore.Entry{Name: "b", Node: b.Node()})
	if err != nil {
		t.Fatal(err)
	}
	return []*castore.Directory{leaf, a, b, root}
}

func putStream(ctx context.Context, dc pb.DirectoryServiceClient, dirs []*pb.Directory) (*pb.PutDirectoryResponse, error) {
	s, err := dc.Put(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if err := s.Send(d); err != nil {
			break // the server has answered; CloseAndRecv has its verdict
		}
	}
	return s.CloseAndRecv()
}

func toPB(ds ...*castore.Directory) []*pb.Directory {
	out := make([]*pb.Directory, len(ds))
	for i, d := range ds {
		out[i] = pb.FromDirectory(d)
	}
	return out
}

func testDirectoryWire(t *testing.T, e *wireEnv) {
	ctx := ctxT(t)
	cl := diamond(t)
	leaf, a, b, root := cl[0], cl[1], cl[2], cl[3]
	resp, err := putStream(ctx, e.dc, toPB(cl...))
	if err != nil {
		t.Fatal(err)
	}
	rd := root.Digest()
	if !bytes.Equal(resp.RootDigest, rd[:]) {
		t.Fatalf("root digest %x, want %x", resp.RootDigest, rd)
	}

	// Recursive Get: root first, breadth-first, each once.
	gs, err := e.dc.Get(ctx, &pb.GetDirectoryRequest{ByWhat: &pb.GetDirectoryRequest_Digest{Digest: rd[:]}, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	var order []castore.Digest
	for {
		m, err := gs.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		d, err := pb.ToDirectory(m)
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, d.Digest())
	}
	want := []castore.Digest{rd, a.Digest(), b.Digest(), leaf.Digest()}
	if len(order) != len(want) {
		t.Fatalf("recursive Get sent %d directories, want %d", len(order), len(want))
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("recursive Get order[%d] = %s, want %s", i, order[i], want[i])
		}
	}

	unknown := castore.Sum([]byte("no such directory"))
	gs, err = e.dc.Get(ctx, &pb.GetDirectoryRequest{ByWhat: &pb.GetDirectoryRequest_Digest{Digest: unknown[:]}, Recursive: true})
	if err == nil {
		_, err = gs.Recv()
	}
	if err != io.EOF {
		t.Errorf("recursive Get of an unknown root: %v, want an empty OK stream", err)
	}
	gs, err = e.dc.Get(ctx, &pb.GetDirectoryRequest{ByWhat: &pb.GetDirectoryRequest_Digest{Digest: unknown[:]}})
	if err == nil {
		_, err = gs.Recv()
	}
	wantCode(t, "Get unknown", err, codes.NotFound)
	for _, req := range []*pb.GetDirectoryRequest{
		{},
		{ByWhat: &pb.GetDirectoryRequest_Digest{Digest: unknown[:16]}},
		{ByWhat: &pb.GetDirectoryRequest_Digest{Digest: unknown[:16]}, Recursive: true},
	} {
		gs, err = e.dc.Get(ctx, req)
		if err == nil {
			_, err = gs.Recv()
		}
		wantCode(t, "Get bad request", err, codes.InvalidArgument)
	}

	// Hostile Put streams.
	short := pb.FromDirectory(leaf)
	short.Files[0].Digest = short.Files[0].Digest[:20]
	wrongSize := pb.FromDirectory(root)
	wrongSize.Directories[0].Size++
	other, _ := castore.NewDirectory(castore.Entry{Name: "o", Node: castore.SymlinkNode("z")})
	for _, tc := range []struct {
		name string
		dirs []*pb.Directory
	}{
		{"unsorted", []*pb.Directory{{Files: []*pb.FileNode{{Name: []byte("b"), Digest: castore.EmptyDigest[:]}, {Name: []byte("a"), Digest: castore.EmptyDigest[:]}}}}},
		{"duplicate names", []*pb.Directory{{Files: []*pb.FileNode{{Name: []byte("a"), Digest: castore.EmptyDigest[:]}}, Symlinks: []*pb.SymlinkNode{{Name: []byte("a"), Target: []byte("t")}}}}},
		{"dotdot", []*pb.Directory{{Symlinks: []*pb.SymlinkNode{{Name: []byte(".."), Target: []byte("t")}}}}},
		{"short digest", []*pb.Directory{short}},
		{"wrong child size", append(toPB(leaf, a, b), wrongSize)},
		{"reference to an unsent directory", toPB(leaf, a, root)},
		{"root before children", toPB(root, a, b, leaf)},
		{"disconnected", toPB(leaf, a, b, root, other)},
		{"two roots", toPB(leaf, a, b)},
		{"empty stream", nil},
	} {
		_, err := putStream(ctx, e.dc, tc.dirs)
		wantCode(t, "Put "+tc.name, err, codes.InvalidArgument)
	}

	// A client that goes away mid-Put leaves no root.
	n1, _ := castore.NewDirectory(castore.Entry{Name: "only-here", Node: castore.SymlinkNode("1")})
	n2, _ := castore.NewDirectory(castore.Entry{Name: "n1", Node: n1.Node()})
	pctx, cancel := context.WithCancel(ctx)
	s, err := e.dc.Put(pctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(pb.FromDirectory(n1)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond)
	for _, d := range []*castore.Directory{n1, n2} {
		if _, err := e.dirs.Get(ctx, d.Digest()); !errors.Is(err, castore.ErrNotFound) {
			t.Errorf("after an aborted Put, Get(%s) = %v, want not found", d.Digest(), err)
		}
	}
}

// failing is a backend that is down.
type failing struct{}

var errDown = errors.New("backend is down")

func (failing) Has(context.Context, castore.Digest) (bool, error) { return false, errDown }
func (failing) Open(context.Context, castore.Digest) (castore.BlobReader, error) {
	return nil, errDown
}
func (failing) Create(context.Context) castore.BlobWriter { return failingWriter{} }
func (failing) ReadCompressedChunk(context.Context, castore.Digest) ([]byte, error) {
	return nil, errDown
}
func (failing) Chunks(context.Context, castore.Digest) ([]castore.ChunkMeta, error) {
	return nil, errDown
}
func (failing) Get(context.Context, castore.Digest) (*castore.Directory, error) { return nil, errDown }
func (failing) Put(context.Context, *castore.Directory) (castore.Digest, error) {
	return castore.Digest{}, errDown
}
func (failing) GetRecursive(context.Context, castore.Digest) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) { yield(nil, errDown) }
}
func (failing) NewPutter(context.Context) castore.DirectoryPutter { return failingPutter{} }
func (failing) Addressing() castore.Addressing                    { return castore.AddressesSome }

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error)      { return 0, errDown }
func (failingWriter) Close() (castore.Digest, error) { return castore.Digest{}, errDown }

type failingPutter struct{}

func (failingPutter) Put(*castore.Directory) error   { return errDown }
func (failingPutter) Close() (castore.Digest, error) { return castore.Digest{}, errDown }

// A backend failure is UNAVAILABLE, never a silent success.
func TestWireBackendFailure(t *testing.T) {
	e := newWireEnv(t, failing{}, failing{})
	ctx := ctxT(t)
	d := castore.Sum([]byte("x"))
	_, err := e.bc.Stat(ctx, &pb.StatBlobRequest{Digest: d[:]})
	wantCode(t, "Stat", err, codes.Unavailable)
	rs, err := e.bc.Read(ctx, &pb.ReadBlobRequest{Digest: d[:]})
	if err == nil {
		_, _, err = readAll(t, rs)
	}
	wantCode(t, "Read", err, codes.Unavailable)
	cs, err := pb.NewChunkServiceClient(e.conn).ReadCompressed(ctx, &pb.ReadCompressedRequest{Digest: d[:]})
	if err == nil {
		_, err = cs.Recv()
	}
	wantCode(t, "ReadCompressed", err, codes.Unavailable)
	ps, _ := e.bc.Put(ctx)
	ps.Send(&pb.BlobChunk{Data: []byte("x")})
	_, err = ps.CloseAndRecv()
	wantCode(t, "Put", err, codes.Unavailable)
	gs, err := e.dc.Get(ctx, &pb.GetDirectoryRequest{ByWhat: &pb.GetDirectoryRequest_Digest{Digest: d[:]}, Recursive: true})
	if err == nil {
		_, err = gs.Recv()
	}
	wantCode(t, "Get recursive", err, codes.Unavailable)
	_, err = putStream(ctx, e.dc, toPB(diamond(t)...))
	wantCode(t, "Put directories", err, codes.Unavailable)
}

func TestWireMemory(t *testing.T) {
	e := newWireEnv(t, chunkstore.NewMemory(), dirstore.NewMemory())
	t.Run("blobs", func(t *testing.T) { testBlobWire(t, e) })
	t.Run("directories", func(t *testing.T) { testDirectoryWire(t, e) })
}
