package grpcapi

import (
	"context"

	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/castorepb/snixpb"
)

// snix.castore.v1 serves the same BlobService and DirectoryService as
// tvix.castore.v1 under snix's names: the handlers here convert each
// message at the edge and call the tvix servers, so both names behave
// alike in every status code, limit and metric. BlobStoreService and
// ChunkStoreService, snix's own, are in snix_blobstore.go and
// snix_chunkstore.go.

// registerSnix adds the snix.castore.v1 services over the tvix servers
// Register made (nil: not registered).
func registerSnix(s grpc.ServiceRegistrar, svc castore.BlobService, blobs *BlobServer, dirs *DirectoryServer) {
	if blobs != nil {
		snixpb.RegisterBlobServiceServer(s, snixBlobServer{blobs: blobs})
		snixpb.RegisterBlobStoreServiceServer(s, NewBlobStoreServer(svc))
		snixpb.RegisterChunkStoreServiceServer(s, NewChunkStoreServer(svc))
	}
	if dirs != nil {
		snixpb.RegisterDirectoryServiceServer(s, snixDirectoryServer{dirs: dirs})
	}
}

// snixBlobServer is snix.castore.v1.BlobService over a BlobServer.
type snixBlobServer struct {
	snixpb.UnimplementedBlobServiceServer
	blobs *BlobServer
}

func (s snixBlobServer) Stat(ctx context.Context, req *snixpb.StatBlobRequest) (*snixpb.StatBlobResponse, error) {
	resp, err := s.blobs.Stat(ctx, snixpb.StatBlobRequestToTvix(req))
	if err != nil {
		return nil, err
	}
	return snixpb.StatBlobResponseFromTvix(resp), nil
}

func (s snixBlobServer) Read(req *snixpb.ReadBlobRequest, stream grpc.ServerStreamingServer[snixpb.BlobChunk]) error {
	return s.blobs.Read(snixpb.ReadBlobRequestToTvix(req), sendAs(stream, snixpb.BlobChunkFromTvix))
}

func (s snixBlobServer) Put(stream grpc.ClientStreamingServer[snixpb.BlobChunk, snixpb.PutBlobResponse]) error {
	return s.blobs.Put(recvAs(stream, snixpb.BlobChunkToTvix, snixpb.PutBlobResponseFromTvix))
}

// snixDirectoryServer is snix.castore.v1.DirectoryService over a
// DirectoryServer.
type snixDirectoryServer struct {
	snixpb.UnimplementedDirectoryServiceServer
	dirs *DirectoryServer
}

func (s snixDirectoryServer) Get(req *snixpb.GetDirectoryRequest, stream grpc.ServerStreamingServer[snixpb.Directory]) error {
	return s.dirs.Get(snixpb.GetDirectoryRequestToTvix(req), sendAs(stream, snixpb.FromTvixDirectory))
}

func (s snixDirectoryServer) Put(stream grpc.ClientStreamingServer[snixpb.Directory, snixpb.PutDirectoryResponse]) error {
	return s.dirs.Put(recvAs(stream, snixpb.ToTvixDirectory, snixpb.PutDirectoryResponseFromTvix))
}

// sendAs is a server stream of T that sends each message converted to W
// on out.
func sendAs[T, W any](out grpc.ServerStreamingServer[W], conv func(*T) *W) grpc.ServerStreamingServer[T] {
	return sendStream[T, W]{ServerStream: out, out: out, conv: conv}
}

type sendStream[T, W any] struct {
	grpc.ServerStream
	out  grpc.ServerStreamingServer[W]
	conv func(*T) *W
}

func (s sendStream[T, W]) Send(m *T) error { return s.out.Send(s.conv(m)) }

// recvAs is a client stream of Req and Res over one of WReq and WRes:
// what it receives is converted from WReq, its answer to WRes.
func recvAs[Req, Res, WReq, WRes any](in grpc.ClientStreamingServer[WReq, WRes], req func(*WReq) *Req, res func(*Res) *WRes) grpc.ClientStreamingServer[Req, Res] {
	return recvStream[Req, Res, WReq, WRes]{ServerStream: in, in: in, req: req, res: res}
}

type recvStream[Req, Res, WReq, WRes any] struct {
	grpc.ServerStream
	in  grpc.ClientStreamingServer[WReq, WRes]
	req func(*WReq) *Req
	res func(*Res) *WRes
}

func (s recvStream[Req, Res, WReq, WRes]) Recv() (*Req, error) {
	m, err := s.in.Recv()
	if err != nil {
		return nil, err
	}
	return s.req(m), nil
}

func (s recvStream[Req, Res, WReq, WRes]) SendAndClose(m *Res) error {
	return s.in.SendAndClose(s.res(m))
}

var (
	_ snixpb.BlobServiceServer                 = snixBlobServer{}
	_ snixpb.DirectoryServiceServer            = snixDirectoryServer{}
	_ grpc.ServerStreamingServer[pb.BlobChunk] = sendStream[pb.BlobChunk, snixpb.BlobChunk]{}
)
