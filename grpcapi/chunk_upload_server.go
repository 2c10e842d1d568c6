package grpcapi

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkfmt"
)

// The upload half of castore.v1.ChunkService: Missing, so that a client
// that cut a blob asks about its chunks in batches, and PutCompressed, so
// that it sends the missing ones as the store keeps them. The blob is
// then recorded with snix.castore.v1.BlobStoreService.PutBlob
// (snix_blobstore.go), which verifies it.

// missingAhead is how many digests of one Missing call the server asks
// its store about at once.
const missingAhead = 32

// store is the BlobService behind the chunks, for the uploads.
func (s *ChunkServer) store() (castore.BlobService, error) {
	if svc, ok := s.chunks.(castore.BlobService); ok {
		return svc, nil
	}
	return nil, status.Error(codes.Unimplemented, "this server takes no chunk uploads")
}

// Missing answers which digests the store lacks, asking it about up to
// missingAhead at once.
func (s *ChunkServer) Missing(ctx context.Context, req *pb.MissingRequest) (*pb.MissingResponse, error) {
	svc, err := s.store()
	if err != nil {
		return nil, err
	}
	raw := req.GetDigests()
	if len(raw) > MaxBatchDigests {
		return nil, status.Errorf(codes.InvalidArgument, "digests: at most %d a call, got %d", MaxBatchDigests, len(raw))
	}
	ds := make([]castore.Digest, len(raw))
	for i, b := range raw {
		if ds[i], err = digestArg(fmt.Sprintf("digests[%d]", i), b); err != nil {
			return nil, err
		}
	}
	if !req.GetAsChunks() {
		// A store that answers in batches asks its own way (a chunked
		// store: many at once, each a few requests one after another).
		missing, err := castore.Missing(ctx, svc, ds)
		if err == nil {
			return missingResponse(ds, missing)
		}
		if !errors.Is(err, castore.ErrUnsupported) {
			return nil, toStatus(err)
		}
	}
	held := make([]bool, len(ds))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(missingAhead)
	for i, d := range ds {
		g.Go(func() error {
			var err error
			if req.GetAsChunks() {
				held[i], err = chunkHeld(gctx, svc, d)
			} else {
				held[i], err = d == castore.EmptyDigest, nil
				if !held[i] {
					held[i], err = svc.Has(gctx, d)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", d, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.MissingResponse{}
	for i, d := range ds {
		if !held[i] {
			resp.Missing = append(resp.Missing, d[:])
		}
	}
	return resp, nil
}

// missingResponse answers with missing, which the store returned as
// those of ds it lacks: an ordered part of ds, or an Internal error.
func missingResponse(ds, missing []castore.Digest) (*pb.MissingResponse, error) {
	resp := &pb.MissingResponse{Missing: make([][]byte, 0, len(missing))}
	next := 0
	for _, d := range missing {
		for next < len(ds) && ds[next] != d {
			next++
		}
		if next == len(ds) {
			return nil, status.Errorf(codes.Internal, "the store answers which blobs are missing with %s, not asked about or out of order", d)
		}
		resp.Missing = append(resp.Missing, ds[next][:])
		next++
	}
	return resp, nil
}

// PutCompressed verifies one chunk sent compressed and stores it as sent.
func (s *ChunkServer) PutCompressed(ctx context.Context, req *pb.PutCompressedRequest) (*pb.PutCompressedResponse, error) {
	svc, err := s.store()
	if err != nil {
		return nil, err
	}
	d, err := digestArg("digest", req.GetDigest())
	if err != nil {
		return nil, err
	}
	size := req.GetSize()
	if size == 0 || size > MaxChunkSize {
		return nil, status.Errorf(codes.InvalidArgument, "size %d: a chunk has 1 to %d bytes", size, MaxChunkSize)
	}
	if limit := chunkfmt.CompressedLimit(int64(size)); int64(len(req.GetData())) > limit {
		return nil, status.Errorf(codes.InvalidArgument, "data: %d bytes, more than a chunk of %d bytes compresses to (%d)", len(req.GetData()), size, limit)
	}
	data, err := chunkfmt.DecodeChunk(d, req.GetData(), int64(size))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "data is not chunk %s of %d bytes: %v", d, size, err)
	}
	if err := storeChunk(ctx, svc, d, data, req.GetData()); err != nil {
		return nil, err
	}
	return &pb.PutCompressedResponse{}, nil
}
