package grpcapi_test

import (
	"bytes"
	"context"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/castorepb/snixpb"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
)

// tvixAsSnix is a connection on which the tvix.castore.v1 clients call
// the snix.castore.v1 methods of the same names. The messages are the
// same on the wire, so every tvix wire test runs against the snix
// services as well.
type tvixAsSnix struct{ grpc.ClientConnInterface }

func snixMethod(m string) string {
	return strings.Replace(m, "/tvix.castore.v1.", "/snix.castore.v1.", 1)
}

func (c tvixAsSnix) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.ClientConnInterface.Invoke(ctx, snixMethod(method), args, reply, opts...)
}

func (c tvixAsSnix) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.ClientConnInterface.NewStream(ctx, desc, snixMethod(method), opts...)
}

// The legacy BlobService and the DirectoryService under snix's names
// pass every tvix wire test, over a store that does not chunk and one
// that does.
func TestSnixLegacyWire(t *testing.T) {
	for _, tc := range []struct {
		name  string
		blobs func(t *testing.T) castore.BlobService
	}{
		{"memory", func(*testing.T) castore.BlobService { return chunkstore.NewMemory() }},
		{"chunked", func(t *testing.T) castore.BlobService { return chunked(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newWireEnv(t, tc.blobs(t), dirstore.NewMemory())
			calls := tvixAsSnix{e.conn}
			e.bc, e.dc = pb.NewBlobServiceClient(calls), pb.NewDirectoryServiceClient(calls)
			t.Run("blobs", func(t *testing.T) { testBlobWire(t, e) })
			t.Run("directories", func(t *testing.T) { testDirectoryWire(t, e) })
		})
	}
}

// snixEnv is a real server on loopback with clients generated from the
// snix protos.
type snixEnv struct {
	blobs castore.BlobService
	conn  *grpc.ClientConn
	bc    snixpb.BlobServiceClient
	dc    snixpb.DirectoryServiceClient
	bs    snixpb.BlobStoreServiceClient
	cs    snixpb.ChunkStoreServiceClient
}

func newSnixEnv(t *testing.T, blobs castore.BlobService, dirs castore.DirectoryService) *snixEnv {
	l := listenTCP(t)
	serve(t, l, blobs, dirs)
	conn := dial(t, "grpc+http://"+l.Addr().String(), noRetry)
	return &snixEnv{blobs: blobs, conn: conn,
		bc: snixpb.NewBlobServiceClient(conn), dc: snixpb.NewDirectoryServiceClient(conn),
		bs: snixpb.NewBlobStoreServiceClient(conn), cs: snixpb.NewChunkStoreServiceClient(conn)}
}

func putChunk(ctx context.Context, cs snixpb.ChunkStoreServiceClient, data []byte, msg int) (*snixpb.PutChunkResponse, error) {
	s, err := cs.PutChunk(ctx)
	if err != nil {
		return nil, err
	}
	for len(data) > 0 {
		k := min(len(data), msg)
		if err := s.Send(&snixpb.PutChunkRequest{Data: data[:k]}); err != nil {
			break // the server has answered; CloseAndRecv has its verdict
		}
		data = data[k:]
	}
	return s.CloseAndRecv()
}

func getChunk(t *testing.T, cs snixpb.ChunkStoreServiceClient, d []byte) ([]byte, []int, error) {
	s, err := cs.GetChunk(ctxT(t), &snixpb.GetChunkRequest{Digest: d})
	if err != nil {
		return nil, nil, err
	}
	return readAll(t, s)
}

// The snix clients' view of both services, every status code.
func TestSnixClientsWire(t *testing.T) {
	for _, tc := range []struct {
		name  string
		blobs func(t *testing.T) castore.BlobService
	}{
		{"memory", func(*testing.T) castore.BlobService { return chunkstore.NewMemory() }},
		{"chunked", func(t *testing.T) castore.BlobService { return chunked(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSnixEnv(t, tc.blobs(t), dirstore.NewMemory())
			t.Run("BlobService", func(t *testing.T) { testSnixBlobService(t, e) })
			t.Run("DirectoryService", func(t *testing.T) { testSnixDirectoryService(t, e) })
			t.Run("ChunkStoreService", func(t *testing.T) { testSnixChunkStore(t, e) })
			t.Run("BlobStoreService", func(t *testing.T) { testSnixBlobStore(t, e, tc.name == "chunked") })
		})
	}
}

func testSnixBlobService(t *testing.T, e *snixEnv) {
	ctx := ctxT(t)
	data := randBytes(1<<20+17, 31)
	ps, err := e.bc.Put(ctx)
	must(t, err)
	must(t, ps.Send(&snixpb.BlobChunk{Data: data[:1000]}))
	must(t, ps.Send(&snixpb.BlobChunk{Data: data[1000:]}))
	resp, err := ps.CloseAndRecv()
	must(t, err)
	d := castore.Sum(data)
	if !bytes.Equal(resp.GetDigest(), d[:]) {
		t.Fatalf("Put answered %x, want %x", resp.GetDigest(), d)
	}
	st, err := e.bc.Stat(ctx, &snixpb.StatBlobRequest{Digest: d[:], SendChunks: true})
	must(t, err)
	want, err := e.blobs.Chunks(ctx, d)
	must(t, err)
	if len(st.GetChunks()) != len(want) {
		t.Errorf("Stat lists %d chunks, the store %d", len(st.GetChunks()), len(want))
	}
	rs, err := e.bc.Read(ctx, &snixpb.ReadBlobRequest{Digest: d[:]})
	must(t, err)
	got, _, err := readAll(t, rs)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read back: %v, equal=%v", err, bytes.Equal(got, data))
	}
	unknown := castore.Sum([]byte("never stored"))
	_, err = e.bc.Stat(ctx, &snixpb.StatBlobRequest{Digest: unknown[:]})
	wantCode(t, "Stat unknown", err, codes.NotFound)
	_, err = e.bc.Stat(ctx, &snixpb.StatBlobRequest{Digest: unknown[:5]})
	wantCode(t, "Stat short digest", err, codes.InvalidArgument)
	rs, err = e.bc.Read(ctx, &snixpb.ReadBlobRequest{Digest: unknown[:]})
	if err == nil {
		_, _, err = readAll(t, rs)
	}
	wantCode(t, "Read unknown", err, codes.NotFound)
}

func testSnixDirectoryService(t *testing.T, e *snixEnv) {
	ctx := ctxT(t)
	cl := diamond(t)
	ps, err := e.dc.Put(ctx)
	must(t, err)
	for _, d := range cl {
		must(t, ps.Send(snixpb.FromDirectory(d)))
	}
	resp, err := ps.CloseAndRecv()
	must(t, err)
	root := cl[len(cl)-1].Digest()
	if !bytes.Equal(resp.GetRootDigest(), root[:]) {
		t.Fatalf("Put answered root %x, want %x", resp.GetRootDigest(), root)
	}
	gs, err := e.dc.Get(ctx, &snixpb.GetDirectoryRequest{ByWhat: &snixpb.GetDirectoryRequest_Digest{Digest: root[:]}, Recursive: true})
	must(t, err)
	var order []castore.Digest
	for {
		m, err := gs.Recv()
		if err == io.EOF {
			break
		}
		must(t, err)
		d, err := snixpb.ToDirectory(m)
		must(t, err)
		order = append(order, d.Digest())
	}
	if want := []castore.Digest{root, cl[1].Digest(), cl[2].Digest(), cl[0].Digest()}; !equalDigests(order, want) {
		t.Errorf("recursive Get order %v, want %v", order, want)
	}
	unknown := castore.Sum([]byte("no such directory"))
	gs, err = e.dc.Get(ctx, &snixpb.GetDirectoryRequest{ByWhat: &snixpb.GetDirectoryRequest_Digest{Digest: unknown[:]}})
	if err == nil {
		_, err = gs.Recv()
	}
	wantCode(t, "Get unknown", err, codes.NotFound)
	gs, err = e.dc.Get(ctx, &snixpb.GetDirectoryRequest{})
	if err == nil {
		_, err = gs.Recv()
	}
	wantCode(t, "Get without digest", err, codes.InvalidArgument)
	ps, err = e.dc.Put(ctx)
	must(t, err)
	ps.Send(&snixpb.Directory{Symlinks: []*snixpb.SymlinkEntry{{Name: []byte(".."), Target: []byte("t")}}})
	_, err = ps.CloseAndRecv()
	wantCode(t, "Put dotdot", err, codes.InvalidArgument)
}

func equalDigests(a, b []castore.Digest) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testSnixChunkStore(t *testing.T, e *snixEnv) {
	ctx := ctxT(t)
	data := randBytes(300<<10, 32)
	d := castore.Sum(data)
	_, err := e.cs.StatChunk(ctx, &snixpb.StatChunkRequest{Digest: d[:]})
	wantCode(t, "StatChunk before PutChunk", err, codes.NotFound)
	_, _, err = getChunk(t, e.cs, d[:])
	wantCode(t, "GetChunk before PutChunk", err, codes.NotFound)
	resp, err := putChunk(ctx, e.cs, data, 100<<10)
	must(t, err)
	if !bytes.Equal(resp.GetDigest(), d[:]) {
		t.Fatalf("PutChunk answered %x, want %x", resp.GetDigest(), d)
	}
	_, err = e.cs.StatChunk(ctx, &snixpb.StatChunkRequest{Digest: d[:]})
	wantCode(t, "StatChunk", err, codes.OK)
	got, sizes, err := getChunk(t, e.cs, d[:])
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetChunk: %v, equal=%v", err, bytes.Equal(got, data))
	}
	for _, n := range sizes {
		if n > 2<<20 {
			t.Errorf("GetChunk sent a message of %d bytes, more than 2 MiB", n)
		}
	}
	// Stored as one chunk, whatever the store's own cut points.
	if chunks, err := e.blobs.Chunks(ctx, d); err != nil || len(chunks) != 0 {
		t.Errorf("the store keeps the chunk as %v, %v; want one chunk", chunks, err)
	}
	// A chunk as large as allowed, in one message.
	big := randBytes(grpcapi.MaxChunkSize, 33)
	if _, err := putChunk(ctx, e.cs, big, len(big)); err != nil {
		t.Errorf("PutChunk of %d bytes: %v", len(big), err)
	}
	bd := castore.Sum(big)
	got, sizes, err = getChunk(t, e.cs, bd[:])
	if err != nil || !bytes.Equal(got, big) || len(sizes) < 2 {
		t.Errorf("GetChunk of %d bytes: %v, equal=%v, in %d messages", len(big), err, bytes.Equal(got, big), len(sizes))
	}

	// Hostile PutChunk: nothing stored.
	over := randBytes(grpcapi.MaxChunkSize+1, 34)
	_, err = putChunk(ctx, e.cs, over, 1<<20)
	wantCode(t, "PutChunk over the bound", err, codes.InvalidArgument)
	if ok, _ := e.blobs.Has(ctx, castore.Sum(over)); ok {
		t.Error("a chunk over the bound was stored")
	}
	_, err = putChunk(ctx, e.cs, nil, 1)
	wantCode(t, "PutChunk empty", err, codes.InvalidArgument)
	s, err := e.cs.PutChunk(ctx)
	must(t, err)
	must(t, s.Send(&snixpb.PutChunkRequest{}))
	_, err = s.CloseAndRecv()
	wantCode(t, "PutChunk of empty messages", err, codes.InvalidArgument)
	// A client that goes away mid-PutChunk leaves nothing.
	partial := randBytes(200<<10, 35)
	pctx, cancel := context.WithCancel(ctx)
	s, err = e.cs.PutChunk(pctx)
	must(t, err)
	must(t, s.Send(&snixpb.PutChunkRequest{Data: partial[:100<<10]}))
	time.Sleep(50 * time.Millisecond)
	cancel()
	time.Sleep(50 * time.Millisecond)
	for _, b := range [][]byte{partial, partial[:100<<10]} {
		if ok, _ := e.blobs.Has(ctx, castore.Sum(b)); ok {
			t.Error("an aborted PutChunk stored something")
		}
	}

	// Bad digests.
	_, err = e.cs.StatChunk(ctx, &snixpb.StatChunkRequest{Digest: d[:31]})
	wantCode(t, "StatChunk short digest", err, codes.InvalidArgument)
	_, _, err = getChunk(t, e.cs, nil)
	wantCode(t, "GetChunk no digest", err, codes.InvalidArgument)
	_, err = e.cs.StatChunk(ctx, &snixpb.StatChunkRequest{Digest: castore.EmptyDigest[:]})
	wantCode(t, "StatChunk of the empty blob", err, codes.OK)
}

func testSnixBlobStore(t *testing.T, e *snixEnv, chunks bool) {
	ctx := ctxT(t)
	unknown := castore.Sum([]byte("never stored"))
	_, err := e.bs.StatBlob(ctx, &snixpb.BSStatBlobRequest{Digest: unknown[:]})
	wantCode(t, "StatBlob unknown", err, codes.NotFound)
	_, err = e.bs.GetBlob(ctx, &snixpb.GetBlobRequest{Digest: unknown[:]})
	wantCode(t, "GetBlob unknown", err, codes.NotFound)
	_, err = e.bs.StatBlob(ctx, &snixpb.BSStatBlobRequest{Digest: unknown[:3]})
	wantCode(t, "StatBlob short digest", err, codes.InvalidArgument)
	_, err = e.bs.GetBlob(ctx, &snixpb.GetBlobRequest{})
	wantCode(t, "GetBlob no digest", err, codes.InvalidArgument)
	_, err = e.bs.StatBlob(ctx, &snixpb.BSStatBlobRequest{Digest: castore.EmptyDigest[:]})
	wantCode(t, "StatBlob empty blob", err, codes.OK)
	gb, err := e.bs.GetBlob(ctx, &snixpb.GetBlobRequest{Digest: castore.EmptyDigest[:]})
	if err != nil || len(gb.GetBlobMeta().GetChunks()) != 0 {
		t.Errorf("GetBlob of the empty blob = %v, %v; want no chunks", gb, err)
	}

	// A blob put through the legacy service: its chunks, or itself as one.
	legacy := randBytes(1<<20, 36)
	ld := putBlob(t, e.blobs, legacy)
	gb, err = e.bs.GetBlob(ctx, &snixpb.GetBlobRequest{Digest: ld[:]})
	must(t, err)
	lchunks, _, err := snixpb.ToChunks(gb.GetBlobMeta())
	must(t, err)
	if want, _ := e.blobs.Chunks(ctx, ld); len(want) > 0 && !equalChunks(lchunks, want) {
		t.Errorf("GetBlob = %v, the store's chunks %v", lchunks, want)
	} else if len(want) == 0 && !equalChunks(lchunks, []castore.ChunkMeta{{Digest: ld, Size: uint64(len(legacy))}}) {
		t.Errorf("GetBlob of an unsplit blob = %v, want the blob as its one chunk", lchunks)
	}

	// The snix client's way: chunks first, then the meta.
	data := randBytes(700<<10, 37)
	cuts := []int{0, 200 << 10, 450 << 10, len(data)}
	var metas []castore.ChunkMeta
	for i := range len(cuts) - 1 {
		piece := data[cuts[i]:cuts[i+1]]
		_, err := putChunk(ctx, e.cs, piece, 64<<10)
		must(t, err)
		metas = append(metas, castore.ChunkMeta{Digest: castore.Sum(piece), Size: uint64(len(piece))})
	}
	d := castore.Sum(data)
	_, err = e.bs.StatBlob(ctx, &snixpb.BSStatBlobRequest{Digest: d[:]})
	wantCode(t, "StatBlob before PutBlob", err, codes.NotFound)
	_, err = e.bs.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: d[:], BlobMeta: snixpb.FromChunks(metas)})
	must(t, err)
	_, err = e.bs.StatBlob(ctx, &snixpb.BSStatBlobRequest{Digest: d[:]})
	wantCode(t, "StatBlob after PutBlob", err, codes.OK)
	if got := readBack(t, e.blobs, d); !bytes.Equal(got, data) {
		t.Fatalf("the blob put as chunks reads back as %d bytes that differ", len(got))
	}
	gb, err = e.bs.GetBlob(ctx, &snixpb.GetBlobRequest{Digest: d[:]})
	must(t, err)
	if got, _, _ := snixpb.ToChunks(gb.GetBlobMeta()); chunks && !equalChunks(got, metas) {
		t.Errorf("GetBlob = %v, want the chunks put %v", got, metas)
	}
	// Again: idempotent.
	_, err = e.bs.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: d[:], BlobMeta: snixpb.FromChunks(metas)})
	wantCode(t, "PutBlob again", err, codes.OK)
	// A blob of one chunk needs nothing more than the chunk.
	_, err = e.bs.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: metas[0].Digest[:], BlobMeta: snixpb.FromChunks(metas[:1])})
	wantCode(t, "PutBlob of one chunk", err, codes.OK)
	_, err = e.bs.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: castore.EmptyDigest[:]})
	wantCode(t, "PutBlob of the empty blob", err, codes.OK)

	// Hostile PutBlob: refused, nothing stored.
	never := randBytes(300<<10, 38)
	missing := castore.ChunkMeta{Digest: castore.Sum(never), Size: uint64(len(never))}
	joined := func(ms ...castore.ChunkMeta) castore.Digest {
		h := castore.NewHasher()
		for _, m := range ms {
			switch m.Digest {
			case metas[0].Digest:
				h.Write(data[cuts[0]:cuts[1]])
			case metas[1].Digest:
				h.Write(data[cuts[1]:cuts[2]])
			case metas[2].Digest:
				h.Write(data[cuts[2]:cuts[3]])
			case missing.Digest:
				h.Write(never)
			}
		}
		return h.Sum()
	}
	withSize := func(m castore.ChunkMeta, size uint64) castore.ChunkMeta { m.Size = size; return m }
	rawMeta := func(chunks ...*snixpb.BlobMeta_ChunkMeta) *snixpb.BlobMeta { return &snixpb.BlobMeta{Chunks: chunks} }
	for _, tc := range []struct {
		name   string
		digest castore.Digest
		meta   *snixpb.BlobMeta
		code   codes.Code
	}{
		{"wrong digest", castore.Sum([]byte("another blob")), snixpb.FromChunks(metas), codes.InvalidArgument},
		{"chunks out of order", joined(metas[1], metas[0], metas[2]), snixpb.FromChunks(metas), codes.InvalidArgument},
		{"missing chunk", joined(metas[0], missing), snixpb.FromChunks([]castore.ChunkMeta{metas[0], missing}), codes.FailedPrecondition},
		{"empty list for a non-empty blob", joined(metas[0], metas[1]), &snixpb.BlobMeta{}, codes.InvalidArgument},
		{"no meta for a non-empty blob", joined(metas[0], metas[1]), nil, codes.InvalidArgument},
		{"sizes that overflow", joined(metas[0], metas[1]), snixpb.FromChunks([]castore.ChunkMeta{withSize(metas[0], math.MaxUint64), withSize(metas[1], math.MaxUint64)}), codes.InvalidArgument},
		{"a size too large for a chunk", joined(metas[0], metas[1]), snixpb.FromChunks([]castore.ChunkMeta{withSize(metas[0], 1<<40), metas[1]}), codes.InvalidArgument},
		{"a chunk one byte longer than it is", joined(metas[0], metas[1]), snixpb.FromChunks([]castore.ChunkMeta{withSize(metas[0], metas[0].Size+1), metas[1]}), codes.InvalidArgument},
		{"a chunk one byte shorter than it is", joined(metas[0], metas[1]), snixpb.FromChunks([]castore.ChunkMeta{withSize(metas[0], metas[0].Size-1), metas[1]}), codes.InvalidArgument},
		{"a chunk of size 0", joined(metas[0], metas[1]), rawMeta(&snixpb.BlobMeta_ChunkMeta{Digest: metas[0].Digest[:]}, &snixpb.BlobMeta_ChunkMeta{Digest: metas[1].Digest[:], Size: metas[1].Size}), codes.InvalidArgument},
		{"a short chunk digest", joined(metas[0], metas[1]), rawMeta(&snixpb.BlobMeta_ChunkMeta{Digest: metas[0].Digest[:31], Size: metas[0].Size}), codes.InvalidArgument},
		{"chunks for the empty blob", castore.EmptyDigest, snixpb.FromChunks(metas[:1]), codes.InvalidArgument},
	} {
		_, err := e.bs.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: tc.digest[:], BlobMeta: tc.meta})
		wantCode(t, "PutBlob "+tc.name, err, tc.code)
		if tc.digest != castore.EmptyDigest {
			if ok, err := e.blobs.Has(ctx, tc.digest); ok || err != nil {
				t.Errorf("after PutBlob %s: Has = %v, %v", tc.name, ok, err)
			}
		}
	}
	_, err = e.bs.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: d[:16], BlobMeta: snixpb.FromChunks(metas)})
	wantCode(t, "PutBlob short digest", err, codes.InvalidArgument)
	if chunks {
		// A blob of several chunks is no chunk: a meta naming one as a
		// chunk would make an index no reader can follow.
		lc, _ := e.blobs.Chunks(ctx, ld)
		if len(lc) < 2 {
			t.Fatalf("the legacy blob has %d chunks; want several", len(lc))
		}
		h := castore.NewHasher()
		h.Write(legacy)
		h.Write(data[:cuts[1]])
		twice := h.Sum()
		_, err := e.bs.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: twice[:], BlobMeta: snixpb.FromChunks([]castore.ChunkMeta{{Digest: ld, Size: uint64(len(legacy))}, metas[0]})})
		wantCode(t, "PutBlob naming a blob as a chunk", err, codes.FailedPrecondition)
		_, err = e.cs.StatChunk(ctx, &snixpb.StatChunkRequest{Digest: ld[:]})
		wantCode(t, "StatChunk of a blob of several chunks", err, codes.NotFound)
		_, _, err = getChunk(t, e.cs, ld[:])
		wantCode(t, "GetChunk of a blob of several chunks", err, codes.NotFound)
	}
}

func equalChunks(a, b []castore.ChunkMeta) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func putBlob(t *testing.T, s castore.BlobService, data []byte) castore.Digest {
	t.Helper()
	w := s.Create(ctxT(t))
	_, err := w.Write(data)
	must(t, err)
	d, err := w.Close()
	must(t, err)
	return d
}

func readBack(t *testing.T, s castore.BlobService, d castore.Digest) []byte {
	t.Helper()
	r, err := s.Open(ctxT(t), d)
	must(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	must(t, err)
	return b
}

// A backend failure is UNAVAILABLE on every snix call too.
func TestSnixBackendFailure(t *testing.T) {
	e := newSnixEnv(t, failing{}, failing{})
	ctx := ctxT(t)
	for name, err := range snixCalls(ctx, e.conn) {
		wantCode(t, name, err, codes.Unavailable)
	}
}

// snixCalls makes one call of each snix method that reaches the backend,
// and of castore.v1's upload calls, and returns their errors by
// "service/method".
func snixCalls(ctx context.Context, conn grpc.ClientConnInterface) map[string]error {
	d := castore.Sum([]byte("x"))
	bc, dc := snixpb.NewBlobServiceClient(conn), snixpb.NewDirectoryServiceClient(conn)
	bs, cs := snixpb.NewBlobStoreServiceClient(conn), snixpb.NewChunkStoreServiceClient(conn)
	out := map[string]error{}
	recv := func(s interface{ RecvMsg(any) error }, m any, err error) error {
		if err == nil {
			err = s.RecvMsg(m)
		}
		return err
	}
	_, out["BlobService/Stat"] = bc.Stat(ctx, &snixpb.StatBlobRequest{Digest: d[:]})
	rs, err := bc.Read(ctx, &snixpb.ReadBlobRequest{Digest: d[:]})
	out["BlobService/Read"] = recv(rs, &snixpb.BlobChunk{}, err)
	ps, err := bc.Put(ctx)
	if err == nil {
		ps.Send(&snixpb.BlobChunk{Data: []byte("x")})
		_, err = ps.CloseAndRecv()
	}
	out["BlobService/Put"] = err
	gs, err := dc.Get(ctx, &snixpb.GetDirectoryRequest{ByWhat: &snixpb.GetDirectoryRequest_Digest{Digest: d[:]}})
	out["DirectoryService/Get"] = recv(gs, &snixpb.Directory{}, err)
	dps, err := dc.Put(ctx)
	if err == nil {
		dps.Send(&snixpb.Directory{})
		_, err = dps.CloseAndRecv()
	}
	out["DirectoryService/Put"] = err
	_, out["BlobStoreService/StatBlob"] = bs.StatBlob(ctx, &snixpb.BSStatBlobRequest{Digest: d[:]})
	_, out["BlobStoreService/GetBlob"] = bs.GetBlob(ctx, &snixpb.GetBlobRequest{Digest: d[:]})
	_, out["BlobStoreService/PutBlob"] = bs.PutBlob(ctx, &snixpb.PutBlobRequest{Digest: d[:], BlobMeta: snixpb.FromChunks([]castore.ChunkMeta{{Digest: d, Size: 1}})})
	_, out["ChunkStoreService/StatChunk"] = cs.StatChunk(ctx, &snixpb.StatChunkRequest{Digest: d[:]})
	gcs, err := cs.GetChunk(ctx, &snixpb.GetChunkRequest{Digest: d[:]})
	out["ChunkStoreService/GetChunk"] = recv(gcs, &snixpb.GetChunkResponse{}, err)
	pcs, err := cs.PutChunk(ctx)
	if err == nil {
		pcs.Send(&snixpb.PutChunkRequest{Data: []byte("x")})
		_, err = pcs.CloseAndRecv()
	}
	out["ChunkStoreService/PutChunk"] = err
	// castore.v1's upload calls beside them.
	cc := pb.NewChunkServiceClient(conn)
	_, out["ChunkService/Missing"] = cc.Missing(ctx, &pb.MissingRequest{Digests: [][]byte{d[:]}})
	enc, _ := chunkfmt.NewEncoder()
	_, out["ChunkService/PutCompressed"] = cc.PutCompressed(ctx, &pb.PutCompressedRequest{Digest: d[:], Size: 1, Data: enc.Encode([]byte("x"))})
	return out
}

// isSnixWrite says which of snixCalls' calls need the write role.
func isSnixWrite(name string) bool {
	return strings.HasSuffix(name, "/Put") || strings.HasSuffix(name, "/PutBlob") || strings.HasSuffix(name, "/PutChunk") || strings.HasSuffix(name, "/PutCompressed")
}
