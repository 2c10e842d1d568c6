package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkfmt"
)

// The upload half of castore.v1.ChunkService: Missing, so that a client
// that cut a blob asks about its chunks in batches, and PutCompressed, so
// that it sends the missing ones as the store keeps them. The blob is
// then recorded with PutChunkList (below), which verifies it as its
// chunk list arrives, or with snix.castore.v1.BlobStoreService.PutBlob
// (snix_blobstore.go), which verifies it once it has the whole list.

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
	d, data, err := checkCompressed(req, "")
	if err != nil {
		return nil, err
	}
	if err := storeChunk(ctx, svc, d, data, req.GetData()); err != nil {
		return nil, err
	}
	return &pb.PutCompressedResponse{}, nil
}

// checkCompressed decodes and verifies one chunk sent compressed: its
// digest and its data, or INVALID_ARGUMENT, each message starting with
// what (a chunk's position in a batch).
func checkCompressed(req *pb.PutCompressedRequest, what string) (castore.Digest, []byte, error) {
	d, err := digestArg(what+"digest", req.GetDigest())
	if err != nil {
		return d, nil, err
	}
	size := req.GetSize()
	if size == 0 || size > MaxChunkSize {
		return d, nil, status.Errorf(codes.InvalidArgument, "%ssize %d: a chunk has 1 to %d bytes", what, size, MaxChunkSize)
	}
	if limit := chunkfmt.CompressedLimit(int64(size)); int64(len(req.GetData())) > limit {
		return d, nil, status.Errorf(codes.InvalidArgument, "%sdata: %d bytes, more than a chunk of %d bytes compresses to (%d)", what, len(req.GetData()), size, limit)
	}
	data, err := chunkfmt.DecodeChunk(d, req.GetData(), int64(size))
	if err != nil {
		return d, nil, status.Errorf(codes.InvalidArgument, "%sdata is not chunk %s of %d bytes: %v", what, d, size, err)
	}
	return d, data, nil
}

// batchStores is how many chunks of one PutCompressedBatch the server
// stores at once, holding at most batchStoreBytes of them (compressed and
// decoded); the stream's flow control holds back the rest. A batch call
// thus holds about what as many PutCompressed calls at once would.
const (
	batchStores     = 8
	batchStoreBytes = 8 << 20
)

// PutCompressedBatch verifies and stores the chunks of one call as they
// arrive, batchStores at once, and answers with their count once the
// client has sent them all. The first refusal, of a chunk or by the
// store, ends the call.
func (s *ChunkServer) PutCompressedBatch(stream grpc.ClientStreamingServer[pb.PutCompressedRequest, pb.PutCompressedBatchResponse]) error {
	svc, err := s.store()
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(stream.Context())
	g.SetLimit(batchStores)
	held := semaphore.NewWeighted(batchStoreBytes)
	n := 0
	for gctx.Err() == nil {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			g.Wait()
			return err
		}
		if n == MaxBatchDigests {
			g.Wait()
			return status.Errorf(codes.InvalidArgument, "chunks: at most %d a call", MaxBatchDigests)
		}
		d, data, err := checkCompressed(req, fmt.Sprintf("chunk %d: ", n))
		if err != nil {
			g.Wait()
			return err
		}
		n++
		comp := req.GetData()
		w := min(int64(len(data)+len(comp)), batchStoreBytes)
		if err := held.Acquire(gctx, w); err != nil {
			break // a store failed, or the call ended: Wait says which
		}
		g.Go(func() error {
			defer held.Release(w)
			return storeChunk(gctx, svc, d, data, comp)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := stream.Context().Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return stream.SendAndClose(&pb.PutCompressedBatchResponse{Stored: uint64(n)})
}

// maxListChunks bounds the chunks one PutChunkList names: about as many
// as a PutBlob message of MaxMessageSize can (a chunk takes at least 38
// bytes of a BlobMeta), so that the list it holds is no larger. (Their
// sizes, each at most chunkfmt.MaxChunkObject, cannot overflow a uint64.)
// A variable for the tests.
var maxListChunks = MaxMessageSize / 38

// PutChunkList records a blob as its chunks, named over the stream in
// order, and checks them as they come: in a store that keeps indexes
// (castore.IndexPutter) and compressed chunks, a storedHasher reads and
// hashes each part of the list while the client is still cutting and
// uploading the rest, so that the blob's digest, when it comes, leaves
// only the last part to hash. If that fails, or the store is of another
// kind, the whole list is checked as PutBlob checks it (putBlobMeta), which
// also says what is wrong: nothing is stored unless the chunks are the
// blob.
func (s *ChunkServer) PutChunkList(stream grpc.ClientStreamingServer[pb.PutChunkListRequest, pb.PutChunkListResponse]) error {
	svc, err := s.store()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel() // ends the hasher on every early return
	var h *storedHasher
	if _, ok := svc.(castore.IndexPutter); ok {
		h = startStoredHasher(ctx, svc)
	}
	var chunks []castore.ChunkMeta
	var d castore.Digest
	for ended := false; !ended; {
		req, err := stream.Recv()
		if err == io.EOF {
			return status.Error(codes.InvalidArgument, "the chunk list ended without the blob's digest")
		}
		if err != nil {
			return err
		}
		if len(chunks)+len(req.GetChunks()) > maxListChunks {
			return status.Errorf(codes.InvalidArgument, "chunks: a blob of at most %d", maxListChunks)
		}
		for _, c := range req.GetChunks() {
			cm, err := listedChunk(len(chunks), c)
			if err != nil {
				return err
			}
			chunks = append(chunks, cm)
			if h != nil && !h.add(cm) {
				h = nil // gave up: putBlobMeta checks the list, and says why
			}
		}
		if len(req.GetDigest()) > 0 {
			if d, err = digestArg("digest", req.GetDigest()); err != nil {
				return err
			}
			ended = true
		}
	}
	if h != nil {
		sum, ok := h.finish()
		if ok && sum == d && len(chunks) > 1 {
			if err := putVerifiedIndex(ctx, svc, d, chunks); err != nil {
				return err
			}
			return stream.SendAndClose(&pb.PutChunkListResponse{})
		}
	}
	if err := putBlobMeta(ctx, svc, d, chunks); err != nil {
		return err
	}
	return stream.SendAndClose(&pb.PutChunkListResponse{})
}

// listedChunk checks chunk i of a PutChunkList.
func listedChunk(i int, c *pb.ListedChunk) (castore.ChunkMeta, error) {
	d, err := digestArg(fmt.Sprintf("chunks[%d].digest", i), c.GetDigest())
	if err != nil {
		return castore.ChunkMeta{}, err
	}
	size := c.GetSize()
	if size == 0 || size > chunkfmt.MaxChunkObject {
		return castore.ChunkMeta{}, status.Errorf(codes.InvalidArgument, "chunks[%d] (%s): size %d: a chunk has 1 to %d bytes", i, d, size, chunkfmt.MaxChunkObject)
	}
	return castore.ChunkMeta{Digest: d, Size: size}, nil
}
