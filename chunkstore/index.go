package chunkstore

import (
	"fmt"
	"math/bits"

	"google.golang.org/protobuf/proto"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/grpcapi/castorepb"
)

// MaxIndexSize bounds a blob index read from a store (about 5 million
// chunks, a terabyte at the default chunk size).
const MaxIndexSize = 256 << 20

// EncodeIndex returns a blob index: a tvix.castore.v1.StatBlobResponse
// listing the chunks in order.
func EncodeIndex(chunks []castore.ChunkMeta) []byte {
	resp := &pb.StatBlobResponse{Chunks: make([]*pb.StatBlobResponse_ChunkMeta, len(chunks))}
	for i, c := range chunks {
		resp.Chunks[i] = &pb.StatBlobResponse_ChunkMeta{Digest: c.Digest[:], Size: c.Size}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	if err != nil {
		panic(fmt.Sprintf("encode blob index: %v", err)) // cannot happen for this message
	}
	return b
}

// DecodeIndex decodes and checks a stored blob index: every digest 32
// bytes, every size non-zero, the total within uint64. Errors wrap
// castore.ErrCorrupt.
func DecodeIndex(b []byte) ([]castore.ChunkMeta, error) {
	if len(b) > MaxIndexSize {
		return nil, fmt.Errorf("index is larger than %d bytes: %w", MaxIndexSize, castore.ErrCorrupt)
	}
	var resp pb.StatBlobResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("cannot decode index: %w: %w", castore.ErrCorrupt, err)
	}
	out := make([]castore.ChunkMeta, len(resp.GetChunks()))
	var total uint64
	for i, c := range resp.GetChunks() {
		d, err := castore.DigestFromBytes(c.GetDigest())
		if err != nil {
			return nil, fmt.Errorf("index chunk #%d: %w: %w", i, castore.ErrCorrupt, err)
		}
		if c.GetSize() == 0 {
			return nil, fmt.Errorf("index chunk #%d (%s) has size 0: %w", i, d, castore.ErrCorrupt)
		}
		var carry uint64
		if total, carry = bits.Add64(total, c.GetSize(), 0); carry != 0 {
			return nil, fmt.Errorf("index sizes overflow at chunk #%d: %w", i, castore.ErrCorrupt)
		}
		out[i] = castore.ChunkMeta{Digest: d, Size: c.GetSize()}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("index lists no chunks: %w", castore.ErrCorrupt)
	}
	return out, nil
}
