package grpcapi_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/castorepb/snixpb"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/ingest"
)

// cutHere is a client whose Create cuts blobs here and sends only the
// chunks the server lacks; it fails where the server cannot take them.
type cutHere struct{ *grpcapi.BlobClient }

func (c cutHere) Create(ctx context.Context) castore.BlobWriter {
	w, err := c.BlobClient.CreateChunked(ctx)
	if err != nil {
		return failedWriter{err}
	}
	return w
}

type failedWriter struct{ err error }

func (w failedWriter) Write([]byte) (int, error)      { return 0, w.err }
func (w failedWriter) Close() (castore.Digest, error) { return castore.Digest{}, w.err }

// The client passes the blob suite writing through the chunk uploads, on
// a store that chunks and on a near/far cache; TestBlobConformance has it
// through the legacy Put.
func TestBlobConformanceCutHere(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) castore.BlobService {
			b, d := embeddedDefault(t)
			bc, _ := clientsOf(t, "tcp", b, d)
			return cutHere{bc}
		})
	})
	t.Run("near-far", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) castore.BlobService {
			nf, err := chunkstore.NewNearFar(chunked(t), chunked(t), chunkstore.NearFarOptions{Write: chunkstore.WriteFar})
			if err != nil {
				t.Fatal(err)
			}
			bc, _ := clientsOf(t, "tcp", nf, dirstore.NewMemory())
			return cutHere{bc}
		})
	})
}

// A server that takes no chunks (a tvix server, or a castore server on a
// store that keeps none) makes CreateChunked unsupported, once asked; an
// import then writes with Put as before.
func TestCreateChunkedUnsupported(t *testing.T) {
	bc, calls := servedCounting(t, chunkstore.NewMemory())
	for range 2 {
		if _, err := bc.CreateChunked(ctxT(t)); !errors.Is(err, castore.ErrUnsupported) {
			t.Fatalf("CreateChunked against a store without chunks = %v, want unsupported", err)
		}
	}
	dir := t.TempDir()
	randomBytes(t, filepath.Join(dir, "f"), 600<<10, 3)
	n, err := ingest.ImportPath(ctxT(t), bc, dirstore.NewMemory(), dir, ingest.Options{SkipKnown: true})
	must(t, err)
	calls.mu.Lock()
	puts := calls.n["/tvix.castore.v1.BlobService/Put"]
	calls.mu.Unlock()
	if n.Type != castore.NodeDirectory || puts != 1 {
		t.Errorf("import against a store without chunks: %v, %d Puts; want one", n, puts)
	}
}

func randomBytes(t *testing.T, path string, n int, seed byte) []byte {
	b := randBytes(n, seed)
	must(t, os.WriteFile(path, b, 0o644))
	return b
}

// chunkBytes counts what a server receives as chunk data: raw sizes and
// bytes on the wire of PutCompressed(Batch), PutChunk and the legacy Puts.
type chunkBytes struct {
	raw, wire, blobPuts atomic.Int64
	putBlobMetas        atomic.Int64 // snix PutBlob calls
	// PutChunkList: calls that ended with a digest, and the chunks named
	// before it and with it.
	lists, listedBefore, listedLast atomic.Int64
}

func (c *chunkBytes) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if strings.HasSuffix(info.FullMethod, "BlobStoreService/PutBlob") {
		c.putBlobMetas.Add(1)
	}
	if r, ok := req.(*pb.PutCompressedRequest); ok {
		c.raw.Add(int64(r.GetSize()))
		c.wire.Add(int64(len(r.GetData())))
	}
	return h(ctx, req)
}

func (c *chunkBytes) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, countingStream{ss, c})
}

type countingStream struct {
	grpc.ServerStream
	c *chunkBytes
}

func (s countingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		if r, ok := m.(*pb.PutChunkListRequest); ok {
			if len(r.GetDigest()) == 0 {
				s.c.listedBefore.Add(int64(len(r.GetChunks())))
			} else {
				s.c.lists.Add(1)
				s.c.listedLast.Add(int64(len(r.GetChunks())))
			}
		} else if r, ok := m.(*pb.PutCompressedRequest); ok { // PutCompressedBatch
			s.c.raw.Add(int64(r.GetSize()))
			s.c.wire.Add(int64(len(r.GetData())))
		} else if d, ok := m.(interface{ GetData() []byte }); ok {
			s.c.raw.Add(int64(len(d.GetData())))
			s.c.wire.Add(int64(len(d.GetData())))
			s.c.blobPuts.Add(1)
		}
	}
	return err
}

// Re-importing a 96 MiB file with 1 MiB changed in the middle sends at
// most 4 MiB of chunk data: the chunks around the change.
func TestReimportSendsOnlyChangedChunks(t *testing.T) {
	blobs, dirs := embeddedDefault(t)
	var cb chunkBytes
	s := grpc.NewServer(append(grpcapi.ServerOptions(), grpc.UnaryInterceptor(cb.unary), grpc.StreamInterceptor(cb.stream))...)
	grpcapi.Register(s, blobs, dirs)
	l := listenTCP(t)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	conn := dial(t, "grpc+http://"+l.Addr().String())
	bc, dc := grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn)

	dir := t.TempDir()
	path := filepath.Join(dir, "big")
	data := randomBytes(t, path, 96<<20, 40)
	o := ingest.Options{SkipKnown: true}
	first, err := ingest.ImportPath(ctxT(t), bc, dc, dir, o)
	must(t, err)
	if got := cb.raw.Load(); got < 96<<20 {
		t.Fatalf("the first import sent %d bytes of chunks, less than the file", got)
	}
	copy(data[48<<20:], randBytes(1<<20, 41))
	must(t, os.WriteFile(path, data, 0o644))
	cb.raw.Store(0)
	cb.wire.Store(0)
	cb.lists.Store(0)
	cb.listedBefore.Store(0)
	second, err := ingest.ImportPath(ctxT(t), bc, dc, dir, o)
	must(t, err)
	if second.Digest == first.Digest {
		t.Fatal("the changed file imported as before")
	}
	raw, wire := cb.raw.Load(), cb.wire.Load()
	t.Logf("re-import with 1 MiB changed: %.2f MiB of chunks (%.2f MiB on the wire), %d legacy Put messages", float64(raw)/(1<<20), float64(wire)/(1<<20), cb.blobPuts.Load())
	if raw > 4<<20 || cb.blobPuts.Load() != 0 {
		t.Errorf("re-import sent %d bytes of chunks and %d legacy Put messages; want at most 4 MiB, none", raw, cb.blobPuts.Load())
	}
	d := castore.Sum(data)
	if got := readBack(t, blobs, d); !equalBytes(got, data) {
		t.Fatal("the re-imported file reads back differently")
	}
	// The blob is recorded with PutChunkList, every chunk named as its
	// batch was stored, before the digest.
	chunks, err := blobs.Chunks(ctxT(t), d)
	must(t, err)
	if cb.lists.Load() != 1 || cb.listedBefore.Load() != int64(len(chunks)) || cb.listedLast.Load() != 0 || cb.putBlobMetas.Load() != 0 {
		t.Errorf("re-import: %d PutChunkList calls naming %d chunks before the digest and %d with it, %d PutBlob calls; want 1 naming all %d before, none",
			cb.lists.Load(), cb.listedBefore.Load(), cb.listedLast.Load(), cb.putBlobMetas.Load(), len(chunks))
	}

	// Unchanged, and no stat cache: every chunk is there, and so is the
	// blob, which the server is not asked to verify again.
	cb.raw.Store(0)
	cb.putBlobMetas.Store(0)
	cb.lists.Store(0)
	cb.listedBefore.Store(0)
	third, err := ingest.ImportPath(ctxT(t), bc, dc, dir, o)
	must(t, err)
	if third.Digest != second.Digest || cb.raw.Load() != 0 || cb.putBlobMetas.Load() != 0 || cb.lists.Load() != 0 || cb.listedBefore.Load() != 0 {
		t.Errorf("unchanged re-import: root %s (want %s), sent %d bytes of chunks, %d PutBlob calls, %d PutChunkList calls naming %d chunks; want none",
			third.Digest, second.Digest, cb.raw.Load(), cb.putBlobMetas.Load(), cb.lists.Load(), cb.listedBefore.Load())
	}
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

// The upload calls on the wire: every status code.
func TestChunkUploadWire(t *testing.T) {
	blobs := chunked(t)
	e := newWireEnv(t, blobs, dirstore.NewMemory())
	cc := pb.NewChunkServiceClient(e.conn)
	ctx := ctxT(t)
	enc, err := chunkfmt.NewEncoder()
	must(t, err)

	split := randBytes(1<<20, 50)
	sd := putBlob(t, blobs, split)
	if c, _ := blobs.Chunks(ctx, sd); len(c) < 2 {
		t.Fatalf("a 1 MiB blob has %d chunks", len(c))
	}
	single := randBytes(1000, 51)
	one := putBlob(t, blobs, single)
	unknown := castore.Sum([]byte("never stored"))
	ask := func(asChunks bool, ds ...castore.Digest) ([]castore.Digest, error) {
		req := &pb.MissingRequest{AsChunks: asChunks}
		for _, d := range ds {
			req.Digests = append(req.Digests, d[:])
		}
		resp, err := cc.Missing(ctx, req)
		var out []castore.Digest
		for _, b := range resp.GetMissing() {
			d, _ := castore.DigestFromBytes(b)
			out = append(out, d)
		}
		return out, err
	}
	got, err := ask(true, unknown, sd, one, castore.EmptyDigest, unknown)
	if err != nil || !equalDigests(got, []castore.Digest{unknown, sd, unknown}) {
		t.Errorf("Missing as chunks = %v, %v; want the unknown digest, the blob of several chunks, the unknown digest", got, err)
	}
	got, err = ask(false, unknown, sd, one, castore.EmptyDigest)
	if err != nil || !equalDigests(got, []castore.Digest{unknown}) {
		t.Errorf("Missing = %v, %v; want the unknown digest", got, err)
	}
	if got, err := ask(true); err != nil || len(got) != 0 {
		t.Errorf("Missing of nothing = %v, %v", got, err)
	}
	_, err = cc.Missing(ctx, &pb.MissingRequest{Digests: [][]byte{unknown[:31]}})
	wantCode(t, "Missing short digest", err, codes.InvalidArgument)
	_, err = cc.Missing(ctx, &pb.MissingRequest{Digests: make([][]byte, grpcapi.MaxBatchDigests+1)})
	wantCode(t, "Missing of too many", err, codes.InvalidArgument)

	chunk := randBytes(300<<10, 52)
	cd := castore.Sum(chunk)
	_, err = cc.PutCompressed(ctx, &pb.PutCompressedRequest{Digest: cd[:], Size: uint64(len(chunk)), Data: enc.Encode(chunk)})
	must(t, err)
	if got, err := ask(true, cd); err != nil || len(got) != 0 {
		t.Errorf("Missing after PutCompressed = %v, %v", got, err)
	}
	if c, err := blobs.Chunks(ctx, cd); err != nil || len(c) != 0 {
		t.Errorf("the store keeps the chunk as %v, %v; want one chunk", c, err)
	}
	if got := readBack(t, blobs, cd); !equalBytes(got, chunk) {
		t.Error("the chunk put compressed reads back differently")
	}

	// Hostile PutCompressed: refused, nothing stored.
	other := randBytes(200<<10, 53)
	od := castore.Sum(other)
	zeros := make([]byte, 64<<20)
	var bomb []byte
	if zw, err := zstd.NewWriter(nil); err == nil {
		bomb = zw.EncodeAll(zeros, nil)
	}
	zd := castore.Sum(zeros[:100])
	big := randBytes(grpcapi.MaxChunkSize+1, 54)
	bd := castore.Sum(big)
	for _, tc := range []struct {
		name string
		req  *pb.PutCompressedRequest
		d    castore.Digest
	}{
		{"another chunk's data", &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(chunk)), Data: enc.Encode(chunk)}, od},
		{"a size one too large", &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(other)) + 1, Data: enc.Encode(other)}, od},
		{"a size one too small", &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(other)) - 1, Data: enc.Encode(other)}, od},
		{"size 0", &pb.PutCompressedRequest{Digest: od[:], Data: enc.Encode(other)}, od},
		{"no data", &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(other))}, od},
		{"data that is not zstd", &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(other)), Data: other}, od},
		{"a decompression bomb", &pb.PutCompressedRequest{Digest: zd[:], Size: 100, Data: bomb}, zd},
		{"over the size bound", &pb.PutCompressedRequest{Digest: bd[:], Size: uint64(len(big)), Data: enc.Encode(big)}, bd},
		{"data over what the size compresses to", &pb.PutCompressedRequest{Digest: od[:], Size: 10, Data: make([]byte, 70<<10)}, od},
	} {
		_, err := cc.PutCompressed(ctx, tc.req)
		wantCode(t, "PutCompressed "+tc.name, err, codes.InvalidArgument)
		if ok, err := blobs.Has(ctx, tc.d); ok || err != nil {
			t.Errorf("after PutCompressed %s: Has = %v, %v", tc.name, ok, err)
		}
	}
	_, err = cc.PutCompressed(ctx, &pb.PutCompressedRequest{Digest: od[:3], Size: 1, Data: []byte{1}})
	wantCode(t, "PutCompressed short digest", err, codes.InvalidArgument)

	// A store that keeps no chunks has no ChunkService.
	m := newWireEnv(t, chunkstore.NewMemory(), dirstore.NewMemory())
	_, err = pb.NewChunkServiceClient(m.conn).Missing(ctx, &pb.MissingRequest{})
	wantCode(t, "Missing on a memory store", err, codes.Unimplemented)
	// A backend that is down.
	f := newWireEnv(t, failing{}, failing{})
	_, err = pb.NewChunkServiceClient(f.conn).Missing(ctx, &pb.MissingRequest{Digests: [][]byte{od[:]}})
	wantCode(t, "Missing, backend down", err, codes.Unavailable)
	_, err = pb.NewChunkServiceClient(f.conn).PutCompressed(ctx, &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(other)), Data: enc.Encode(other)})
	wantCode(t, "PutCompressed, backend down", err, codes.Unavailable)
}

// hostileUploads is a ChunkService whose Missing answers what answer
// makes of the true answer; the rest is the real server's.
type hostileUploads struct {
	*grpcapi.ChunkServer
	answer func(req *pb.MissingRequest, missing [][]byte) [][]byte
}

func (h hostileUploads) Missing(ctx context.Context, req *pb.MissingRequest) (*pb.MissingResponse, error) {
	resp, err := h.ChunkServer.Missing(ctx, req)
	if err != nil {
		return nil, err
	}
	if len(resp.GetMissing()) == 0 {
		return resp, nil // the client's first question: does the server take chunks?
	}
	return &pb.MissingResponse{Missing: h.answer(req, resp.GetMissing())}, nil
}

// The writer refuses a server that answers Missing with what was not
// asked, and fails (storing no blob) with one that says it has chunks it
// lacks: PutBlob's verification refuses the blob.
func TestCreateChunkedRefusesHostileServers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(req *pb.MissingRequest, missing [][]byte) [][]byte
	}{
		{"a digest not asked", func(_ *pb.MissingRequest, m [][]byte) [][]byte {
			d := castore.Sum([]byte("not asked"))
			return append([][]byte{d[:]}, m[1:]...)
		}},
		{"a digest twice", func(_ *pb.MissingRequest, m [][]byte) [][]byte { return append([][]byte{m[0]}, m[:len(m)-1]...) }},
		{"more than asked", func(req *pb.MissingRequest, _ [][]byte) [][]byte { return append(req.Digests, req.Digests...) }},
		{"a short digest", func(_ *pb.MissingRequest, m [][]byte) [][]byte { return append([][]byte{{1, 2}}, m[1:]...) }},
		{"none missing", func(*pb.MissingRequest, [][]byte) [][]byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs := chunked(t)
			s := grpc.NewServer(grpcapi.ServerOptions()...)
			pb.RegisterChunkServiceServer(s, hostileUploads{grpcapi.NewChunkServer(blobs), tc.answer})
			snixpb.RegisterBlobStoreServiceServer(s, grpcapi.NewBlobStoreServer(blobs))
			pb.RegisterBlobServiceServer(s, grpcapi.NewBlobServer(blobs))
			l := listenTCP(t)
			go s.Serve(l)
			t.Cleanup(s.Stop)
			bc := grpcapi.NewBlobClient(dial(t, "grpc+http://"+l.Addr().String()))
			data := randBytes(3<<20, 60)
			w, err := bc.CreateChunked(ctxT(t))
			must(t, err)
			_, err = w.Write(data)
			if err == nil {
				_, err = w.Close()
			}
			if err == nil {
				t.Fatal("a blob written against a hostile server was stored")
			}
			if ok, herr := blobs.Has(ctxT(t), castore.Sum(data)); ok || herr != nil {
				t.Errorf("after %v: Has = %v, %v", err, ok, herr)
			}
			t.Log(err)
		})
	}
}

// BlobClient.Missing (castore.MissingFinder) takes from the server only
// an ordered part of what it asked.
func TestBlobClientMissingRefusesHostile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(req *pb.MissingRequest, missing [][]byte) [][]byte
	}{
		{"out of order", func(_ *pb.MissingRequest, m [][]byte) [][]byte { return [][]byte{m[1], m[0]} }},
		{"twice", func(_ *pb.MissingRequest, m [][]byte) [][]byte { return [][]byte{m[0], m[0]} }},
		{"not asked", func(_ *pb.MissingRequest, m [][]byte) [][]byte {
			d := castore.Sum([]byte("not asked"))
			return [][]byte{d[:]}
		}},
		{"garbage", func(*pb.MissingRequest, [][]byte) [][]byte { return [][]byte{{7}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs := chunked(t)
			s := grpc.NewServer(grpcapi.ServerOptions()...)
			pb.RegisterChunkServiceServer(s, hostileUploads{grpcapi.NewChunkServer(blobs), tc.answer})
			l := listenTCP(t)
			go s.Serve(l)
			t.Cleanup(s.Stop)
			bc := grpcapi.NewBlobClient(dial(t, "grpc+http://"+l.Addr().String()))
			a, b := castore.Sum([]byte("a")), castore.Sum([]byte("b"))
			if got, err := bc.Missing(ctxT(t), []castore.Digest{a, b}); !errors.Is(err, castore.ErrCorrupt) {
				t.Errorf("Missing = %v, %v; want an error wrapping ErrCorrupt", got, err)
			}
		})
	}
}
