package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/castorepb/snixpb"
)

// MaxChunkSize bounds a chunk a client uploads (snix's PutChunk,
// castore.v1's PutCompressed): eight times the largest chunk FastCDC cuts
// at the default average (512 KiB), and what the server holds of one
// upload at most.
const MaxChunkSize = 4 << 20

// ChunkStoreServer serves a castore.BlobService as
// snix.castore.v1.ChunkStoreService: chunks by their digest, as the
// store keeps them (a chunk of a blob, or a blob of one chunk; a blob of
// several is no chunk).
type ChunkStoreServer struct {
	snixpb.UnimplementedChunkStoreServiceServer
	svc   castore.BlobService
	blobs *BlobServer
}

// NewChunkStoreServer returns a server for svc. Register it with
// snixpb.RegisterChunkStoreServiceServer.
func NewChunkStoreServer(svc castore.BlobService) *ChunkStoreServer {
	return &ChunkStoreServer{svc: svc, blobs: NewBlobServer(svc)}
}

var _ snixpb.ChunkStoreServiceServer = (*ChunkStoreServer)(nil)

// StatChunk answers OK for a stored chunk, NOT_FOUND otherwise.
func (s *ChunkStoreServer) StatChunk(ctx context.Context, req *snixpb.StatChunkRequest) (*snixpb.StatChunkResponse, error) {
	d, err := digestArg("digest", req.GetDigest())
	if err != nil {
		return nil, err
	}
	if err := isChunk(ctx, s.svc, d); err != nil {
		return nil, err
	}
	return &snixpb.StatChunkResponse{}, nil
}

// GetChunk streams a chunk in messages of ReadMessageSize bytes.
func (s *ChunkStoreServer) GetChunk(req *snixpb.GetChunkRequest, stream grpc.ServerStreamingServer[snixpb.GetChunkResponse]) error {
	d, err := digestArg("digest", req.GetDigest())
	if err != nil {
		return err
	}
	if err := isChunk(stream.Context(), s.svc, d); err != nil {
		return err
	}
	return s.blobs.Read(&pb.ReadBlobRequest{Digest: d[:]}, sendAs(stream, func(c *pb.BlobChunk) *snixpb.GetChunkResponse {
		return &snixpb.GetChunkResponse{Data: c.GetData()}
	}))
}

// PutChunk receives one chunk of at most MaxChunkSize bytes and stores it
// as a chunk, whatever the store's own cut points.
func (s *ChunkStoreServer) PutChunk(stream grpc.ClientStreamingServer[snixpb.PutChunkRequest, snixpb.PutChunkResponse]) error {
	var data []byte
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if len(data)+len(msg.GetData()) > MaxChunkSize {
			return status.Errorf(codes.InvalidArgument, "a chunk is at most %d bytes", MaxChunkSize)
		}
		data = append(data, msg.GetData()...)
	}
	if len(data) == 0 {
		return status.Error(codes.InvalidArgument, "the chunk is empty: the empty blob needs no chunk")
	}
	d := castore.Sum(data)
	if err := storeChunk(stream.Context(), s.svc, d, data, nil); err != nil {
		return err
	}
	return stream.SendAndClose(&snixpb.PutChunkResponse{Digest: d[:]})
}

// isChunk answers nil if the store holds d as a chunk (or as a blob it
// does not split), a NOT_FOUND status if not: a blob of several chunks
// is no chunk, so a client that asked uploads it as one.
func isChunk(ctx context.Context, svc castore.BlobService, d castore.Digest) error {
	ok, err := chunkHeld(ctx, svc, d)
	switch {
	case err != nil:
		return toStatus(err)
	case !ok:
		return status.Errorf(codes.NotFound, "chunk %s not found", d)
	}
	return nil
}

// chunkHeld reports whether the store holds d as a chunk (or as a blob it
// does not split; the empty blob always).
func chunkHeld(ctx context.Context, svc castore.BlobService, d castore.Digest) (bool, error) {
	if d == castore.EmptyDigest {
		return true, nil
	}
	chunks, err := svc.Chunks(ctx, d)
	switch {
	case errors.Is(err, castore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return len(chunks) == 0, nil
}

// storeChunk stores data, checked to be chunk d, as one chunk: compressed
// (comp if the client sent it so, verified already) where the store takes
// chunks so (castore.CompressedChunkWriter), else as a blob through
// Create, which a store that does not chunk keeps whole. Errors are
// status errors.
func storeChunk(ctx context.Context, svc castore.BlobService, d castore.Digest, data, comp []byte) error {
	if _, ok := svc.(castore.CompressedChunkWriter); ok {
		if comp == nil {
			enc, err := chunkEncoder()
			if err != nil {
				return status.Errorf(codes.Internal, "chunk encoder: %v", err)
			}
			comp = enc.Encode(data)
		}
		err := castore.PutCompressedChunk(ctx, svc, d, comp)
		if !errors.Is(err, castore.ErrUnsupported) {
			return toStatus(err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := svc.Create(ctx)
	if _, err := w.Write(data); err != nil {
		return toStatus(err)
	}
	got, err := w.Close()
	if err != nil {
		return toStatus(err)
	}
	if got != d {
		return status.Error(codes.Internal, fmt.Sprintf("chunk %s: the store says it wrote %s", d, got))
	}
	return nil
}
