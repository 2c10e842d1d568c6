package grpcapi

import (
	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/grpcapi/castorepb"
)

// Register adds the castore services to s. A nil service is not registered.
func Register(s grpc.ServiceRegistrar, blobs castore.BlobService, dirs castore.DirectoryService) {
	if blobs != nil {
		pb.RegisterBlobServiceServer(s, NewBlobServer(blobs))
	}
	if dirs != nil {
		pb.RegisterDirectoryServiceServer(s, NewDirectoryServer(dirs))
	}
}

// ServerOptions are the options every castore gRPC server wants: message
// sizes that fit the largest directories.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
	}
}
