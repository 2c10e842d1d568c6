package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/castorepb/snixpb"
	"github.com/castore-go/castore/chunkfmt"
)

// BlobStoreServer serves a castore.BlobService as
// snix.castore.v1.BlobStoreService: a blob as the list of its chunks
// (BlobMeta), whose chunks a client uploads first through
// ChunkStoreService (or castore.v1.ChunkService.PutCompressed).
type BlobStoreServer struct {
	snixpb.UnimplementedBlobStoreServiceServer
	svc castore.BlobService
}

// NewBlobStoreServer returns a server for svc. Register it with
// snixpb.RegisterBlobStoreServiceServer.
func NewBlobStoreServer(svc castore.BlobService) *BlobStoreServer {
	return &BlobStoreServer{svc: svc}
}

var _ snixpb.BlobStoreServiceServer = (*BlobStoreServer)(nil)

// StatBlob answers OK for a stored blob (or chunk: a blob of one) and the
// empty blob, NOT_FOUND otherwise.
func (s *BlobStoreServer) StatBlob(ctx context.Context, req *snixpb.BSStatBlobRequest) (*snixpb.BSStatBlobResponse, error) {
	d, err := digestArg("digest", req.GetDigest())
	if err != nil {
		return nil, err
	}
	if d != castore.EmptyDigest {
		ok, err := s.svc.Has(ctx, d)
		if err != nil {
			return nil, toStatus(err)
		}
		if !ok {
			return nil, status.Errorf(codes.NotFound, "blob %s not found", d)
		}
	}
	return &snixpb.BSStatBlobResponse{}, nil
}

// GetBlob answers a blob's chunks. A blob the store keeps as one chunk
// (or does not split) is a BlobMeta of that one chunk; the empty blob's
// lists none.
func (s *BlobStoreServer) GetBlob(ctx context.Context, req *snixpb.GetBlobRequest) (*snixpb.GetBlobResponse, error) {
	d, err := digestArg("digest", req.GetDigest())
	if err != nil {
		return nil, err
	}
	if d == castore.EmptyDigest {
		return &snixpb.GetBlobResponse{BlobMeta: &snixpb.BlobMeta{}}, nil
	}
	chunks, err := s.svc.Chunks(ctx, d)
	if err != nil {
		return nil, toStatus(err)
	}
	if len(chunks) == 0 {
		size, err := blobSize(ctx, s.svc, d)
		if err != nil {
			return nil, toStatus(err)
		}
		chunks = []castore.ChunkMeta{{Digest: d, Size: size}}
	}
	return &snixpb.GetBlobResponse{BlobMeta: snixpb.FromChunks(chunks)}, nil
}

// blobSize opens blob d for its length.
func blobSize(ctx context.Context, svc castore.BlobService, d castore.Digest) (uint64, error) {
	r, err := svc.Open(ctx, d)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("size of blob %s: %w", d, err)
	}
	return uint64(n), nil
}

// PutBlob records a blob as the concatenation of chunks the store holds,
// once it has checked that they are: every chunk is read (through the
// store's cache where it has one) and hashed in order, a few read ahead
// of the hashing, so memory stays within a few chunks whatever the blob's
// size. Nothing is stored unless the chunks are all there, each of the
// size the BlobMeta says, and together hash to the digest.
func (s *BlobStoreServer) PutBlob(ctx context.Context, req *snixpb.PutBlobRequest) (*snixpb.BSPutBlobResponse, error) {
	d, err := digestArg("digest", req.GetDigest())
	if err != nil {
		return nil, err
	}
	chunks, _, err := snixpb.ToChunks(req.GetBlobMeta())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "blob_meta: %v", err)
	}
	if err := putBlobMeta(ctx, s.svc, d, chunks); err != nil {
		return nil, err
	}
	return &snixpb.BSPutBlobResponse{}, nil
}

// errMissingChunk marks a chunk a BlobMeta names that the store lacks.
var errMissingChunk = errors.New("chunk not stored")

// verifyBuffered bounds the chunk bytes a verification holds read ahead
// of the hashing.
const verifyBuffered = 32 << 20

// putBlobMeta verifies that chunks (valid each, see snixpb.ToChunks) make
// blob d, and records it: as an index where the store keeps one
// (castore.IndexPutter), else by writing the chunks' bytes as the blob.
// Its errors are status errors: FAILED_PRECONDITION for a chunk the store
// lacks, INVALID_ARGUMENT for chunks that are not the blob.
func putBlobMeta(ctx context.Context, svc castore.BlobService, d castore.Digest, chunks []castore.ChunkMeta) error {
	switch {
	case len(chunks) == 0 && d == castore.EmptyDigest:
		return nil
	case len(chunks) == 0:
		return status.Errorf(codes.InvalidArgument, "blob_meta: an empty chunk list describes only the empty blob, not %s", d)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // abandons a write through Create on every early return
	_, indexes := svc.(castore.IndexPutter)
	if !indexes || len(chunks) == 1 {
		// A blob of one chunk is that chunk: hashing it is the whole check.
		if len(chunks) == 1 {
			return verifyChunks(ctx, svc, d, chunks, io.Discard)
		}
		return writeChunks(ctx, svc, d, chunks)
	}
	if err := verifyChunks(ctx, svc, d, chunks, io.Discard); err != nil {
		return err
	}
	return putVerifiedIndex(ctx, svc, d, chunks)
}

// putVerifiedIndex records blob d as chunks, which have been checked to
// make it, in a store that keeps indexes (castore.IndexPutter).
func putVerifiedIndex(ctx context.Context, svc castore.BlobService, d castore.Digest, chunks []castore.ChunkMeta) error {
	err := castore.PutIndex(ctx, svc, d, chunks)
	if errors.Is(err, castore.ErrUnsupported) {
		// A store that takes writes only through Create (a near/far
		// cache) gets the bytes, read a second time.
		return writeChunks(ctx, svc, d, chunks)
	}
	return toStatus(err)
}

// writeChunks writes the chunks' bytes through Create as blob d, checking
// them as they go; ctx is cancelled by the caller if they are not d.
func writeChunks(ctx context.Context, svc castore.BlobService, d castore.Digest, chunks []castore.ChunkMeta) error {
	w := svc.Create(ctx)
	if err := verifyChunks(ctx, svc, d, chunks, w); err != nil {
		return err
	}
	got, err := w.Close()
	if err != nil {
		return toStatus(err)
	}
	if got != d {
		return status.Errorf(codes.Internal, "blob %s: the store says it wrote %s", d, got)
	}
	return nil
}

// verifyChunks reads the chunks in order, copying their bytes to w, and
// checks that they hash to d.
func verifyChunks(ctx context.Context, svc castore.BlobService, d castore.Digest, chunks []castore.ChunkMeta, w io.Writer) error {
	var largest uint64
	for _, c := range chunks {
		if c.Size > chunkfmt.MaxChunkObject {
			return status.Errorf(codes.InvalidArgument, "blob_meta: chunk %s of %d bytes: a chunk is at most %d", c.Digest, c.Size, chunkfmt.MaxChunkObject)
		}
		largest = max(largest, c.Size)
	}
	ahead := int(min(8, verifyBuffered/largest))
	if w == io.Discard {
		if verifyWhole(ctx, svc, d, chunks) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return toStatus(err)
		}
	}
	r := chunkfmt.NewChunkReader(ctx, chunks, func(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
		return readChunk(ctx, svc, cm)
	}, ahead)
	defer r.Close()
	h := castore.NewHasher()
	_, err := io.Copy(io.MultiWriter(h, w), r)
	var mc *missingChunkError
	switch {
	case errors.As(err, &mc):
		return status.Errorf(codes.FailedPrecondition, "blob_meta: chunk %s is not stored: upload it first", mc.d)
	case errors.Is(err, castore.ErrCorrupt):
		return status.Errorf(codes.InvalidArgument, "blob_meta: %v (is the chunk's size right?)", err)
	case err != nil:
		return toStatus(err)
	}
	if got := h.Sum(); got != d {
		return status.Errorf(codes.InvalidArgument, "blob_meta: the chunks hash to %s, not to %s", got, d)
	}
	return nil
}

// verifyWhole reports whether chunks, as the store keeps them, make blob
// d: a storedHasher fed them all. Any failure (a store without compressed
// copies, a chunk it lacks or holds damaged, a mismatch) makes it false:
// verifyChunks then reads the chunks verified, and says which is wrong.
func verifyWhole(ctx context.Context, svc castore.BlobService, d castore.Digest, chunks []castore.ChunkMeta) bool {
	h := startStoredHasher(ctx, svc)
	if h == nil {
		return false
	}
	for _, cm := range chunks {
		if !h.add(cm) {
			break
		}
	}
	sum, ok := h.finish()
	return ok && sum == d
}

// storedHashAhead bounds the chunks a storedHasher reads ahead of its
// hashing (and storedHashBytes their sizes: a chunk larger counts as
// that much).
const (
	storedHashAhead = 8
	storedHashBytes = verifyBuffered
)

// A storedHasher hashes a blob's chunks, as the store keeps them, in the
// order they are added, while more are still to come: it reads each
// chunk's compressed copy (castore.ReadCompressedChunk), up to
// storedHashAhead at once, decompresses it to its size, and hashes them
// all in order, without hashing each chunk against its own digest: the
// blob's digest covers every byte, and a store took each chunk only after
// checking it. That hashes every byte once, where reading the chunks
// verified hashed it twice. A chunk that cannot be read so (the store
// lacks it, holds it damaged, or of another size) makes it give up.
type storedHasher struct {
	in    chan castore.ChunkMeta
	done  chan struct{} // closed when it has returned, with sum and n set
	added int           // chunks add handed over
	n     int           // chunks hashed
	sum   castore.Digest
}

// startStoredHasher starts a hasher of svc's chunks, or returns nil for a
// store that keeps none compressed. It stops with ctx; finish, or cancel
// ctx, to end it.
func startStoredHasher(ctx context.Context, svc castore.BlobService) *storedHasher {
	if _, ok := svc.(castore.CompressedChunkReader); !ok {
		return nil
	}
	h := &storedHasher{in: make(chan castore.ChunkMeta), done: make(chan struct{})}
	go h.run(ctx, svc)
	return h
}

// add hands cm over to be hashed after the chunks added before it. It
// returns false once the hasher has given up: add no more then.
func (h *storedHasher) add(cm castore.ChunkMeta) bool {
	select {
	case h.in <- cm:
		h.added++
		return true
	case <-h.done:
		return false
	}
}

// finish says that no more chunks come and returns the digest of those
// added, ok only if every one was read and hashed.
func (h *storedHasher) finish() (castore.Digest, bool) {
	close(h.in)
	<-h.done
	return h.sum, h.n == h.added
}

func (h *storedHasher) run(ctx context.Context, svc castore.BlobService) {
	defer close(h.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type read struct {
		data chan []byte // nil for a chunk that failed
		held int64
	}
	queue := make(chan read, storedHashAhead)
	slots := make(chan struct{}, storedHashAhead)
	held := semaphore.NewWeighted(storedHashBytes)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(queue)
		for {
			var cm castore.ChunkMeta
			var ok bool
			select {
			case cm, ok = <-h.in:
			case <-ctx.Done():
				return
			}
			if !ok {
				return
			}
			w := min(int64(cm.Size), storedHashBytes)
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			if held.Acquire(ctx, w) != nil {
				return
			}
			r := read{data: make(chan []byte, 1), held: w}
			queue <- r // never blocks: each read holds a slot
			wg.Add(1)
			go func() {
				defer wg.Done()
				comp, err := castore.ReadCompressedChunk(ctx, svc, cm.Digest)
				var data []byte
				if err == nil {
					data, err = chunkfmt.DecompressInto(getVerifyBuf(), cm.Digest, comp, int64(cm.Size))
				}
				if err != nil {
					data = nil
				}
				r.data <- data
			}()
		}
	}()
	hasher := castore.NewHasher()
	for r := range queue {
		data := <-r.data
		<-slots
		if data == nil {
			cancel() // gives up: n stays short of added
			continue
		}
		hasher.Write(data)
		putVerifyBuf(data)
		held.Release(r.held)
		h.n++
	}
	if ctx.Err() != nil {
		h.n = -1 // stopped before the end of what was added
	}
	h.sum = hasher.Sum()
}

// verifyBufs holds the buffers a storedHasher decompresses chunks into, each
// reused once hashed: a 96 MiB blob's verification allocated 96 MiB for
// them, and the collector's assists that made took more CPU than the hash.
var verifyBufs sync.Pool

func getVerifyBuf() []byte {
	if b, ok := verifyBufs.Get().(*[]byte); ok {
		return *b
	}
	return nil
}

func putVerifyBuf(b []byte) {
	if cap(b) <= MaxChunkSize {
		b = b[:0]
		verifyBufs.Put(&b)
	}
}

type missingChunkError struct{ d castore.Digest }

func (e *missingChunkError) Error() string { return "chunk " + e.d.String() + " is not stored" }
func (e *missingChunkError) Unwrap() error { return errMissingChunk }

// readChunk reads exactly the bytes of chunk cm, verified: with the
// store's ReadChunk where it has one (a chunk, never a blob of several),
// else whole with Open. A chunk the store lacks is a *missingChunkError;
// one of another size an error wrapping castore.ErrCorrupt.
func readChunk(ctx context.Context, svc castore.BlobService, cm castore.ChunkMeta) ([]byte, error) {
	data, err := castore.ReadChunk(ctx, svc, cm)
	if errors.Is(err, castore.ErrUnsupported) {
		data, err = readWhole(ctx, svc, cm)
	}
	if errors.Is(err, castore.ErrNotFound) {
		return nil, &missingChunkError{cm.Digest}
	}
	return data, err
}

// readWhole reads blob cm with Open, refusing more than its size.
func readWhole(ctx context.Context, svc castore.BlobService, cm castore.ChunkMeta) ([]byte, error) {
	r, err := svc.Open(ctx, cm.Digest)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, int64(cm.Size)+1))
	if err != nil {
		return nil, err
	}
	if uint64(len(data)) != cm.Size {
		return nil, fmt.Errorf("chunk %s has %d bytes, not %d: %w", cm.Digest, len(data), cm.Size, castore.ErrCorrupt)
	}
	return data, nil
}
