package castore

import "context"

// BlobStatter is a BlobService that finds many blobs at once and tells
// their sizes, in few calls to what it stores them in: the check a
// directory put by an untrusted client passes (closure.RequireBlobs).
type BlobStatter interface {
	// StatBlobs calls fn once per digest of ds, in order, with the size
	// of the blob (or chunk) and true, or with false if the service lacks
	// it. The size is the one the service stores it with (a chunk's
	// frame, a blob's index): reading the blob verifies it. The empty
	// blob is always there, with size 0.
	StatBlobs(ctx context.Context, ds []Digest, fn func(d Digest, size uint64, ok bool) error) error
}

// StatBlobs calls s's StatBlobs, or refuses for a service without one.
func StatBlobs(ctx context.Context, s BlobService, ds []Digest, fn func(d Digest, size uint64, ok bool) error) error {
	if c, ok := s.(BlobStatter); ok {
		return c.StatBlobs(ctx, ds, fn)
	}
	return unsupported("stat blobs in a batch", s)
}
