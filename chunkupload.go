package castore

import "context"

// ChunkUploader is implemented by blob services whose writers cut a blob
// into chunks on the writing side and send only the chunks the store
// lacks: a gRPC client of a server that takes chunks, so that the parts
// of a changed file that did not change do not cross the network again.
// A local store dedups its chunks anyway and need not have it.
type ChunkUploader interface {
	// CreateChunked starts a blob as Create does, cut on this side. An
	// error wrapping ErrUnsupported means the store takes blobs only
	// whole (a tvix server): write it with Create then.
	CreateChunked(ctx context.Context) (BlobWriter, error)
}

// CreateChunked calls s's CreateChunked, or refuses for a service without
// one.
func CreateChunked(ctx context.Context, s BlobService) (BlobWriter, error) {
	if c, ok := s.(ChunkUploader); ok {
		return c.CreateChunked(ctx)
	}
	return nil, unsupported("create a blob cut here", s)
}

// MissingFinder is implemented by blob services that say of many digests
// at once which they lack: a remote store answers on one round trip what
// Has asks one digest at a time.
type MissingFinder interface {
	// Missing returns those of ds the store holds neither as a blob nor
	// as a chunk (Has false), in the order given. The empty blob is
	// never missing.
	Missing(ctx context.Context, ds []Digest) ([]Digest, error)
}

// Missing calls s's Missing, or refuses for a service without one (ask
// Has of each then).
func Missing(ctx context.Context, s BlobService, ds []Digest) ([]Digest, error) {
	if c, ok := s.(MissingFinder); ok {
		return c.Missing(ctx, ds)
	}
	return nil, unsupported("find missing blobs in a batch", s)
}
