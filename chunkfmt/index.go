package chunkfmt

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
)

// MaxIndexSize bounds a blob index read from a store (about 5 million
// chunks, a terabyte at the default chunk size).
const MaxIndexSize = 256 << 20

// EncodeIndex returns a blob index: a tvix.castore.v1.StatBlobResponse
// listing the chunks in order.
func EncodeIndex(chunks []castore.ChunkMeta) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(pb.FromChunks(chunks))
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
	out, err := pb.ToChunks(&resp)
	if err != nil {
		return nil, fmt.Errorf("index %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("index lists no chunks: %w", castore.ErrCorrupt)
	}
	return out, nil
}
