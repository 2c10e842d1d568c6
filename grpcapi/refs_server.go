package grpcapi

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
)

// RefServer serves a castore.RefService as castore.v1.RefService.
// Status codes: INVALID_ARGUMENT for a bad name, prefix, root, expiry or
// expectation; NOT_FOUND; ABORTED for castore.ErrConflict (a conditional
// Set or Delete that lost to another writer); FAILED_PRECONDITION for
// castore.ErrIncomplete (a root whose closure the server does not hold,
// when svc is wrapped in refstore.RequireComplete, as castore serve's
// is). Get and List need the read role, Set and Delete the write role
// (writeMethods).
type RefServer struct {
	pb.UnimplementedRefServiceServer
	svc castore.RefService
}

// NewRefServer returns a server for svc. Register it with RegisterRefs.
func NewRefServer(svc castore.RefService) *RefServer { return &RefServer{svc: svc} }

// RegisterRefs adds castore.v1.RefService, serving refs, to s. A server
// that stores tags for clients should pass refs through
// refstore.RequireComplete over the directories and blobs it serves.
func RegisterRefs(s grpc.ServiceRegistrar, refs castore.RefService) {
	pb.RegisterRefServiceServer(s, NewRefServer(refs))
}

var _ pb.RefServiceServer = (*RefServer)(nil)

func (s *RefServer) Get(ctx context.Context, req *pb.GetTagRequest) (*pb.Tag, error) {
	if err := castore.ValidateTagName(req.GetName()); err != nil {
		return nil, toStatus(err)
	}
	t, err := s.svc.Get(ctx, req.GetName())
	if err != nil {
		return nil, toStatus(err)
	}
	return pb.FromTag(t), nil
}

// Set stores the tag; its updated field is ignored (the service stamps
// its own).
func (s *RefServer) Set(ctx context.Context, req *pb.SetTagRequest) (*pb.Tag, error) {
	if req.GetTag() == nil {
		return nil, status.Error(codes.InvalidArgument, "tag: required")
	}
	t, err := pb.ToTag(req.GetTag())
	if err != nil {
		return nil, toStatus(err)
	}
	expect, err := pb.ToExpect(req.GetExpect())
	if err != nil {
		return nil, toStatus(err)
	}
	stored, err := s.svc.Set(ctx, t, expect)
	if err != nil {
		return nil, toStatus(err)
	}
	return pb.FromTag(stored), nil
}

func (s *RefServer) Delete(ctx context.Context, req *pb.DeleteTagRequest) (*pb.DeleteTagResponse, error) {
	if err := castore.ValidateTagName(req.GetName()); err != nil {
		return nil, toStatus(err)
	}
	expect, err := pb.ToExpect(req.GetExpect())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := s.svc.Delete(ctx, req.GetName(), expect); err != nil {
		return nil, toStatus(err)
	}
	return &pb.DeleteTagResponse{}, nil
}

// List streams the tags in name order, one message each.
func (s *RefServer) List(req *pb.ListTagsRequest, stream grpc.ServerStreamingServer[pb.Tag]) error {
	if err := castore.ValidateTagPrefix(req.GetPrefix()); err != nil {
		return toStatus(err)
	}
	for t, err := range s.svc.List(stream.Context(), req.GetPrefix()) {
		if err != nil {
			return toStatus(err)
		}
		if err := stream.Send(pb.FromTag(t)); err != nil {
			return err
		}
	}
	return nil
}
