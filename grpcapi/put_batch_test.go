package grpcapi_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/ingest"
)

// PutCompressedBatch on the wire: every status code. A batch stores each
// chunk; the first bad one ends the call with INVALID_ARGUMENT naming its
// position, and is not stored; more than MaxBatchDigests chunks is
// INVALID_ARGUMENT; a store that is down is UNAVAILABLE.
func TestPutCompressedBatchWire(t *testing.T) {
	blobs := chunked(t)
	e := newWireEnv(t, blobs, dirstore.NewMemory())
	cc := pb.NewChunkServiceClient(e.conn)
	ctx := ctxT(t)
	enc, err := chunkfmt.NewEncoder()
	must(t, err)
	req := func(data []byte) *pb.PutCompressedRequest {
		d := castore.Sum(data)
		return &pb.PutCompressedRequest{Digest: d[:], Size: uint64(len(data)), Data: enc.Encode(data)}
	}
	send := func(c pb.ChunkServiceClient, reqs ...*pb.PutCompressedRequest) (*pb.PutCompressedBatchResponse, error) {
		stream, err := c.PutCompressedBatch(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range reqs {
			if err := stream.Send(r); err != nil {
				break
			}
		}
		return stream.CloseAndRecv()
	}

	var good []*pb.PutCompressedRequest
	var datas [][]byte
	for i := range 5 {
		data := randBytes(1000+i*3000, byte(70+i))
		datas = append(datas, data)
		good = append(good, req(data))
	}
	resp, err := send(cc, good...)
	if err != nil || resp.GetStored() != 5 {
		t.Fatalf("a batch of 5 good chunks: stored %d, %v", resp.GetStored(), err)
	}
	for _, data := range datas {
		if got := readBack(t, blobs, castore.Sum(data)); !equalBytes(got, data) {
			t.Error("a chunk put in a batch reads back differently")
		}
	}
	if resp, err := send(cc); err != nil || resp.GetStored() != 0 {
		t.Errorf("an empty batch: stored %d, %v", resp.GetStored(), err)
	}

	other := randBytes(200<<10, 53)
	od := castore.Sum(other)
	big := randBytes(grpcapi.MaxChunkSize+1, 54)
	bd := castore.Sum(big)
	first := randBytes(5000, 55)
	for _, tc := range []struct {
		name string
		req  *pb.PutCompressedRequest
		d    castore.Digest
	}{
		{"another chunk's data", &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(first)), Data: enc.Encode(first)}, od},
		{"a size one too large", &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(other)) + 1, Data: enc.Encode(other)}, od},
		{"size 0", &pb.PutCompressedRequest{Digest: od[:], Data: enc.Encode(other)}, od},
		{"no data", &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(other))}, od},
		{"data that is not zstd", &pb.PutCompressedRequest{Digest: od[:], Size: uint64(len(other)), Data: other}, od},
		{"over the size bound", &pb.PutCompressedRequest{Digest: bd[:], Size: uint64(len(big)), Data: enc.Encode(big)}, bd},
		{"a short digest", &pb.PutCompressedRequest{Digest: od[:3], Size: uint64(len(other)), Data: enc.Encode(other)}, od},
	} {
		_, err := send(cc, req(first), tc.req, req(other))
		wantCode(t, "PutCompressedBatch, second chunk "+tc.name, err, codes.InvalidArgument)
		if err != nil && !strings.Contains(err.Error(), "chunk 1:") {
			t.Errorf("PutCompressedBatch, %s: %v does not name the chunk's position", tc.name, err)
		}
		if ok, err := blobs.Has(ctx, tc.d); ok || err != nil {
			t.Errorf("after PutCompressedBatch %s: Has = %v, %v", tc.name, ok, err)
		}
	}

	tooMany := make([]*pb.PutCompressedRequest, grpcapi.MaxBatchDigests+1)
	one := req([]byte("one small chunk, sent again and again"))
	for i := range tooMany {
		tooMany[i] = one
	}
	_, err = send(cc, tooMany...)
	wantCode(t, "PutCompressedBatch of too many", err, codes.InvalidArgument)
	if resp, err := send(cc, tooMany[1:]...); err != nil || resp.GetStored() != grpcapi.MaxBatchDigests {
		t.Errorf("a batch of %d: stored %d, %v", grpcapi.MaxBatchDigests, resp.GetStored(), err)
	}

	f := newWireEnv(t, failing{}, failing{})
	_, err = send(pb.NewChunkServiceClient(f.conn), req(other))
	wantCode(t, "PutCompressedBatch, backend down", err, codes.Unavailable)
}

// callCounter counts a server's calls by method.
type callCounter struct{ unary, batch atomic.Int64 }

func (c *callCounter) unaryCall(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if strings.HasSuffix(info.FullMethod, "/PutCompressed") {
		c.unary.Add(1)
	}
	return h(ctx, req)
}

func (c *callCounter) streamCall(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if strings.HasSuffix(info.FullMethod, "/PutCompressedBatch") {
		c.batch.Add(1)
	}
	return h(srv, ss)
}

// batchServer serves blobs with chunks, its ChunkService made by wrap.
func batchServer(t *testing.T, blobs *chunkstore.Chunked, wrap func(*grpcapi.ChunkServer) pb.ChunkServiceServer) (*grpcapi.BlobClient, *grpcapi.DirectoryClient, *callCounter) {
	t.Helper()
	var cc callCounter
	s := grpc.NewServer(append(grpcapi.ServerOptions(), grpc.UnaryInterceptor(cc.unaryCall), grpc.StreamInterceptor(cc.streamCall))...)
	pb.RegisterChunkServiceServer(s, wrap(grpcapi.NewChunkServer(blobs)))
	snixpb.RegisterBlobStoreServiceServer(s, grpcapi.NewBlobStoreServer(blobs))
	pb.RegisterBlobServiceServer(s, grpcapi.NewBlobServer(blobs))
	dirs := dirstore.NewMemory()
	pb.RegisterDirectoryServiceServer(s, grpcapi.NewDirectoryServer(dirs))
	l := listenTCP(t)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	conn := dial(t, "grpc+http://"+l.Addr().String())
	return grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn), &cc
}

// smallTree writes n small files of distinct contents.
func smallTree(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), randBytes(200+i*7, byte(i)), 0o644))
	}
	return dir
}

// An import of many small files to a server that takes batches sends
// their chunks in a few PutCompressedBatch calls, none alone; to one
// without the call (UNIMPLEMENTED), each in its own PutCompressed. Both
// store every file.
func TestSmallFilesGoInBatches(t *testing.T) {
	const n = 600
	dir := smallTree(t, n)
	for _, tc := range []struct {
		name string
		wrap func(*grpcapi.ChunkServer) pb.ChunkServiceServer
	}{
		{"batches", func(s *grpcapi.ChunkServer) pb.ChunkServiceServer { return s }},
		{"no batches", func(s *grpcapi.ChunkServer) pb.ChunkServiceServer { return noBatches{s} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs := chunked(t)
			bc, dc, calls := batchServer(t, blobs, tc.wrap)
			_, err := ingest.ImportPath(ctxT(t), bc, dc, dir, ingest.Options{SkipKnown: true})
			must(t, err)
			t.Logf("%d files: %d PutCompressedBatch calls, %d PutCompressed", n, calls.batch.Load(), calls.unary.Load())
			if tc.name == "batches" && (calls.unary.Load() != 0 || calls.batch.Load() > n/8) {
				t.Errorf("%d small files went in %d batches and %d single puts; want at most %d batches, no single put", n, calls.batch.Load(), calls.unary.Load(), n/8)
			}
			if tc.name == "no batches" && calls.unary.Load() != n {
				t.Errorf("without batches, %d single puts for %d files", calls.unary.Load(), n)
			}
			for i := range n {
				data := randBytes(200+i*7, byte(i))
				if ok, err := blobs.Has(ctxT(t), castore.Sum(data)); !ok || err != nil {
					t.Fatalf("file %d: Has = %v, %v", i, ok, err)
				}
			}
		})
	}
}

// noBatches is a ChunkService of a server from before PutCompressedBatch.
type noBatches struct{ *grpcapi.ChunkServer }

func (noBatches) PutCompressedBatch(grpc.ClientStreamingServer[pb.PutCompressedRequest, pb.PutCompressedBatchResponse]) error {
	return status.Error(codes.Unimplemented, "unknown method PutCompressedBatch")
}

// lyingBatches answers a batch with a count other than what it stored.
type lyingBatches struct {
	*grpcapi.ChunkServer
	delta int64
}

func (l lyingBatches) PutCompressedBatch(stream grpc.ClientStreamingServer[pb.PutCompressedRequest, pb.PutCompressedBatchResponse]) error {
	var n int64
	for {
		if _, err := stream.Recv(); err != nil {
			break
		}
		n++
	}
	return stream.SendAndClose(&pb.PutCompressedBatchResponse{Stored: uint64(max(n+l.delta, 0))})
}

// A server that answers a batch with a count other than it was sent (and
// stores nothing) fails the small blob's write with an error wrapping
// castore.ErrCorrupt; one that fails the call fails the write with its
// status.
func TestPutBatchRefusesHostileServers(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*grpcapi.ChunkServer) pb.ChunkServiceServer
		want error
	}{
		{"one fewer", func(s *grpcapi.ChunkServer) pb.ChunkServiceServer { return lyingBatches{s, -1} }, castore.ErrCorrupt},
		{"one more", func(s *grpcapi.ChunkServer) pb.ChunkServiceServer { return lyingBatches{s, 1} }, castore.ErrCorrupt},
		{"down", func(s *grpcapi.ChunkServer) pb.ChunkServiceServer { return failingBatches{s} }, castore.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bc, _, _ := batchServer(t, chunked(t), tc.wrap)
			w, err := bc.CreateChunked(ctxT(t))
			must(t, err)
			if _, err := w.Write([]byte("a small blob")); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Close(); !errors.Is(err, tc.want) {
				t.Errorf("Close = %v, want an error wrapping %v", err, tc.want)
			}
		})
	}
}

type failingBatches struct{ *grpcapi.ChunkServer }

func (failingBatches) PutCompressedBatch(grpc.ClientStreamingServer[pb.PutCompressedRequest, pb.PutCompressedBatchResponse]) error {
	return status.Error(codes.Unavailable, "store down")
}

// slowPuts counts the compressed puts in flight at once, each held a
// while so that they overlap.
type slowPuts struct {
	*chunkstore.Chunked
	now, most atomic.Int64
}

func (s *slowPuts) PutCompressedChunk(ctx context.Context, d castore.Digest, comp []byte) error {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	time.Sleep(20 * time.Millisecond)
	return s.Chunked.PutCompressedChunk(ctx, d, comp)
}

// A batch stores at most 8 small chunks at once, and large ones so that
// what it holds stays within 8 MiB: 3 MiB chunks (6 MiB compressed and
// decoded) one at a time.
func TestPutCompressedBatchBoundsWhatItHolds(t *testing.T) {
	enc, err := chunkfmt.NewEncoder()
	must(t, err)
	for _, tc := range []struct {
		name    string
		size, n int
		most    int64
	}{
		{"small", 1000, 40, 8},
		{"3 MiB", 3 << 20, 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &slowPuts{Chunked: chunked(t)}
			s := grpc.NewServer(grpcapi.ServerOptions()...)
			pb.RegisterChunkServiceServer(s, grpcapi.NewChunkServer(store))
			l := listenTCP(t)
			go s.Serve(l)
			t.Cleanup(s.Stop)
			cc := pb.NewChunkServiceClient(dial(t, "grpc+http://"+l.Addr().String()))
			stream, err := cc.PutCompressedBatch(ctxT(t))
			must(t, err)
			for i := range tc.n {
				data := randBytes(tc.size, byte(100+i))
				d := castore.Sum(data)
				must(t, stream.Send(&pb.PutCompressedRequest{Digest: d[:], Size: uint64(len(data)), Data: enc.Encode(data)}))
			}
			resp, err := stream.CloseAndRecv()
			if err != nil || resp.GetStored() != uint64(tc.n) {
				t.Fatalf("stored %d of %d: %v", resp.GetStored(), tc.n, err)
			}
			if got := store.most.Load(); got > tc.most {
				t.Errorf("%d chunks of %d bytes: %d stored at once, want at most %d", tc.n, tc.size, got, tc.most)
			}
		})
	}
}
