package grpcapi

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
)

// ReadMessageSize is the size of the data messages a Read stream sends
// (the last one may be shorter).
const ReadMessageSize = 1 << 20

// BlobServer serves a castore.BlobService as tvix.castore.v1.BlobService.
type BlobServer struct {
	pb.UnimplementedBlobServiceServer
	svc castore.BlobService
}

// NewBlobServer returns a server for svc. Register it with
// pb.RegisterBlobServiceServer.
func NewBlobServer(svc castore.BlobService) *BlobServer { return &BlobServer{svc: svc} }

var _ pb.BlobServiceServer = (*BlobServer)(nil)

// Stat answers whether a blob or chunk exists, with its chunk list when
// asked. Without send_chunks it costs the backend one existence check.
func (s *BlobServer) Stat(ctx context.Context, req *pb.StatBlobRequest) (*pb.StatBlobResponse, error) {
	d, err := digestArg("digest", req.GetDigest())
	if err != nil {
		return nil, err
	}
	if !req.GetSendChunks() {
		if d == castore.EmptyDigest {
			return &pb.StatBlobResponse{}, nil
		}
		ok, err := s.svc.Has(ctx, d)
		if err != nil {
			return nil, toStatus(err)
		}
		if !ok {
			return nil, status.Errorf(codes.NotFound, "blob %s not found", d)
		}
		return &pb.StatBlobResponse{}, nil
	}
	chunks, err := s.svc.Chunks(ctx, d)
	if errors.Is(err, castore.ErrNotFound) && d == castore.EmptyDigest {
		return &pb.StatBlobResponse{}, nil
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return pb.FromChunks(chunks), nil
}

// Read streams a blob or chunk in messages of ReadMessageSize bytes.
func (s *BlobServer) Read(req *pb.ReadBlobRequest, stream grpc.ServerStreamingServer[pb.BlobChunk]) error {
	d, err := digestArg("digest", req.GetDigest())
	if err != nil {
		return err
	}
	r, err := s.svc.Open(stream.Context(), d)
	if err != nil {
		return toStatus(err)
	}
	defer r.Close()
	mw := &messageWriter{stream: stream}
	if wt, ok := r.(io.WriterTo); ok {
		// A reader holding the bytes (a chunk, a blob of one chunk) hands
		// them over without another copy.
		if _, err := wt.WriteTo(mw); err != nil {
			if mw.err != nil {
				return mw.err
			}
			return toStatus(err)
		}
		return nil
	}
	// Otherwise read into a buffer of the blob's size, if smaller than a
	// message.
	bufSize := ReadMessageSize
	if size, err := r.Seek(0, io.SeekEnd); err == nil {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return toStatus(err)
		}
		if size < ReadMessageSize {
			bufSize = int(max(size, 1))
		}
	}
	buf := make([]byte, bufSize)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if _, serr := mw.Write(buf[:n]); serr != nil {
				return serr
			}
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil
		case err != nil:
			return toStatus(err)
		}
	}
}

// messageWriter sends what is written to it as BlobChunk messages of at
// most ReadMessageSize bytes, and keeps the first send error.
type messageWriter struct {
	stream grpc.ServerStreamingServer[pb.BlobChunk]
	err    error
}

func (m *messageWriter) Write(p []byte) (int, error) {
	n, err := sendInMessages(p, func(b []byte) error { return m.stream.Send(&pb.BlobChunk{Data: b}) })
	if err != nil {
		m.err = err
	}
	return n, err
}

// sendInMessages sends p with send in pieces of at most ReadMessageSize
// bytes, and returns how many bytes went before an error.
func sendInMessages(p []byte, send func([]byte) error) (int, error) {
	for n := 0; n < len(p); {
		k := min(len(p)-n, ReadMessageSize)
		if err := send(p[n : n+k]); err != nil {
			return n, err
		}
		n += k
	}
	return len(p), nil
}

// Put stores the streamed bytes as one blob. If the stream breaks before
// the client half-closes it, the write is abandoned and no blob appears.
func (s *BlobServer) Put(stream grpc.ClientStreamingServer[pb.BlobChunk, pb.PutBlobResponse]) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel() // abandons the writer on every early return
	w := s.svc.Create(ctx)
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(msg.GetData()); err != nil {
			return toStatus(err)
		}
	}
	d, err := w.Close()
	if err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(&pb.PutBlobResponse{Digest: d[:]})
}

// ChunkServer serves castore.v1.ChunkService: chunks as the store keeps
// them, zstd-compressed and unverified, for clients that decompress and
// verify them themselves.
type ChunkServer struct {
	pb.UnimplementedChunkServiceServer
	chunks castore.CompressedChunkReader
}

// NewChunkServer returns a server for the chunks of cr. Register it with
// pb.RegisterChunkServiceServer.
func NewChunkServer(cr castore.CompressedChunkReader) *ChunkServer {
	return &ChunkServer{chunks: cr}
}

var _ pb.ChunkServiceServer = (*ChunkServer)(nil)

// ReadCompressed streams one chunk's stored zstd data in messages of at
// most ReadMessageSize bytes.
func (s *ChunkServer) ReadCompressed(req *pb.ReadCompressedRequest, stream grpc.ServerStreamingServer[pb.CompressedData]) error {
	d, err := digestArg("digest", req.GetDigest())
	if err != nil {
		return err
	}
	comp, err := s.chunks.ReadCompressedChunk(stream.Context(), d)
	if err != nil {
		return toStatus(err)
	}
	_, err = sendInMessages(comp, func(b []byte) error { return stream.Send(&pb.CompressedData{Data: b}) })
	return err
}
