package grpcapi

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/closure"
)

// Register adds the castore services to s, under tvix's names
// (tvix.castore.v1) and snix's (snix.castore.v1, with its BlobStoreService
// and ChunkStoreService). A nil service is not registered. Blobs that can hand over chunks compressed
// (castore.CompressedChunkReader) are served through
// castore.v1.ChunkService as well; a service that has the method but
// refuses (castore.ErrUnsupported) answers it with UNIMPLEMENTED, as a
// server without it does.
//
// With both services, a directory a client puts is accepted only when
// every blob it names is in blobs with the size its node gives
// (closure.RequireBlobs): otherwise FAILED_PRECONDITION, and nothing of
// the closure is stored. Without blobs, the directories are taken as they
// come: whoever serves their blobs must check them.
func Register(s grpc.ServiceRegistrar, blobs castore.BlobService, dirs castore.DirectoryService, opts ...Option) {
	if blobs != nil && dirs != nil {
		dirs = closure.RequireBlobs(dirs, blobs)
	}
	var bs *BlobServer
	var ds *DirectoryServer
	if blobs != nil {
		bs = NewBlobServer(blobs)
		pb.RegisterBlobServiceServer(s, bs)
		if cr, ok := blobs.(castore.CompressedChunkReader); ok {
			pb.RegisterChunkServiceServer(s, NewChunkServer(cr))
		}
	}
	if dirs != nil {
		ds = NewDirectoryServer(dirs)
		for _, o := range opts {
			o(ds)
		}
		pb.RegisterDirectoryServiceServer(s, ds)
	}
	registerSnix(s, blobs, bs, ds)
}

// DefaultMaxDirectoryPutBytes bounds the closure one directory Put may
// send (it is held until the root arrives): about a million directories
// of typical size.
const DefaultMaxDirectoryPutBytes = 256 << 20

// Option tunes the servers Register adds.
type Option func(*DirectoryServer)

// WithMaxDirectoryPutBytes bounds the encoded size of the closure one
// directory Put may send; a larger one is RESOURCE_EXHAUSTED. n <= 0 means
// DefaultMaxDirectoryPutBytes.
func WithMaxDirectoryPutBytes(n int64) Option {
	return func(s *DirectoryServer) {
		if n > 0 {
			s.maxPutBytes = n
		}
	}
}

// ServerOptions are the options every castore gRPC server wants: message
// sizes that fit the largest directories, flow-control windows that let a
// client far away keep its puts in flight (ServerConnWindow), and leave for clients to ping
// every 20 s (grpc-go's default sends GOAWAY to a client pinging more
// often than every 5 minutes, and Dial's clients ping after
// ClientKeepaliveTime without a frame while a call waits).
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(ServerStreamWindow),
		grpc.InitialConnWindowSize(ServerConnWindow),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 20 * time.Second, PermitWithoutStream: true}),
	}
}
