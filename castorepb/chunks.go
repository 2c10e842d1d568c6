package castorepb

import (
	"fmt"
	"math/bits"

	"github.com/castore-go/castore"
)

// FromChunks converts a chunk list to its wire form: a StatBlobResponse
// listing the chunks in order (also the stored blob index).
func FromChunks(chunks []castore.ChunkMeta) *StatBlobResponse {
	resp := &StatBlobResponse{Chunks: make([]*StatBlobResponse_ChunkMeta, len(chunks))}
	for i, c := range chunks {
		resp.Chunks[i] = &StatBlobResponse_ChunkMeta{Digest: c.Digest[:], Size: c.Size}
	}
	return resp
}

// ToChunks validates the chunk list of a StatBlobResponse and converts it:
// every digest 32 bytes, every size non-zero, the total within uint64.
// Errors wrap castore.ErrCorrupt (the list came from a server or a store,
// not from the caller) and name the chunk. An empty list is no error: the
// blob is not split.
func ToChunks(resp *StatBlobResponse) ([]castore.ChunkMeta, error) {
	out := make([]castore.ChunkMeta, len(resp.GetChunks()))
	var total uint64
	for i, c := range resp.GetChunks() {
		d, err := castore.DigestFromBytes(c.GetDigest())
		if err != nil {
			return nil, fmt.Errorf("chunk #%d: %w: %w", i, castore.ErrCorrupt, err)
		}
		if c.GetSize() == 0 {
			return nil, fmt.Errorf("chunk #%d (%s) has size 0: %w", i, d, castore.ErrCorrupt)
		}
		var carry uint64
		if total, carry = bits.Add64(total, c.GetSize(), 0); carry != 0 {
			return nil, fmt.Errorf("chunk sizes overflow uint64 at chunk #%d: %w", i, castore.ErrCorrupt)
		}
		out[i] = castore.ChunkMeta{Digest: d, Size: c.GetSize()}
	}
	return out, nil
}
