package grpcapi

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
)

// DirectoryServer serves a castore.DirectoryService as
// tvix.castore.v1.DirectoryService.
type DirectoryServer struct {
	pb.UnimplementedDirectoryServiceServer
	svc         castore.DirectoryService
	maxPutBytes int64
}

// NewDirectoryServer returns a server for svc. Register it with
// pb.RegisterDirectoryServiceServer.
func NewDirectoryServer(svc castore.DirectoryService) *DirectoryServer {
	return &DirectoryServer{svc: svc, maxPutBytes: DefaultMaxDirectoryPutBytes}
}

var _ pb.DirectoryServiceServer = (*DirectoryServer)(nil)

// Get streams one directory, or with recursive set its closure, root first
// and breadth-first. A recursive Get of an unknown root is an empty stream
// with status OK, as tvix clients expect; a plain Get of an unknown digest
// is NOT_FOUND.
func (s *DirectoryServer) Get(req *pb.GetDirectoryRequest, stream grpc.ServerStreamingServer[pb.Directory]) error {
	by, ok := req.GetByWhat().(*pb.GetDirectoryRequest_Digest)
	if !ok {
		return status.Error(codes.InvalidArgument, "by_what: a digest is required")
	}
	d, err := digestArg("digest", by.Digest)
	if err != nil {
		return err
	}
	ctx := stream.Context()
	if !req.GetRecursive() {
		dir, err := s.svc.Get(ctx, d)
		if err != nil {
			return toStatus(err)
		}
		return stream.Send(pb.FromDirectory(dir))
	}
	for dir, err := range s.svc.GetRecursive(ctx, d) {
		if err != nil {
			return toStatus(err)
		}
		if err := stream.Send(pb.FromDirectory(dir)); err != nil {
			return err
		}
	}
	return nil
}

// Put receives a closure, leaves first and the root last, and answers with
// the root digest. Any invalid directory or closure is INVALID_ARGUMENT
// naming the directory, and a closure naming a blob the server lacks
// (Register checks them) FAILED_PRECONDITION naming the entry; a stream that breaks before the client half-closes
// it is abandoned and leaves no root.
func (s *DirectoryServer) Put(stream grpc.ClientStreamingServer[pb.Directory, pb.PutDirectoryResponse]) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel() // abandons the putter on every early return
	p := s.svc.NewPutter(ctx)
	n := 0
	var size int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n++
		if size += int64(proto.Size(msg)); size > s.maxPutBytes {
			return status.Errorf(codes.ResourceExhausted, "the closure is larger than the %d bytes one Put may send (at directory #%d)", s.maxPutBytes, n)
		}
		dir, err := pb.ToDirectory(msg)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "directory #%d in the stream: %v", n, err)
		}
		if err := p.Put(dir); err != nil {
			return toStatus(err)
		}
	}
	if n == 0 {
		return status.Error(codes.InvalidArgument, "no directories were sent")
	}
	root, err := p.Close()
	if err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(&pb.PutDirectoryResponse{RootDigest: root[:]})
}
