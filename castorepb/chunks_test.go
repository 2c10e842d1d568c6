package castorepb_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
)

// A chunk list survives the round trip through its wire form, and every
// rule of one read from the wire is checked: a StatBlobResponse from a
// server and a blob index from a store go through the same ToChunks.
func TestChunks(t *testing.T) {
	chunks := []castore.ChunkMeta{{Digest: castore.Sum([]byte("a")), Size: 1}, {Digest: castore.Sum([]byte("bc")), Size: 2}}
	got, err := pb.ToChunks(pb.FromChunks(chunks))
	if err != nil || !slices.Equal(got, chunks) {
		t.Fatalf("round trip = %v, %v; want %v", got, err, chunks)
	}
	if got, err := pb.ToChunks(&pb.StatBlobResponse{}); err != nil || len(got) != 0 {
		t.Fatalf("no chunks = %v, %v; want none, no error", got, err)
	}
	cm := func(digest []byte, size uint64) *pb.StatBlobResponse_ChunkMeta {
		return &pb.StatBlobResponse_ChunkMeta{Digest: digest, Size: size}
	}
	for _, tc := range []struct {
		name   string
		chunks []*pb.StatBlobResponse_ChunkMeta
	}{
		{"short digest", []*pb.StatBlobResponse_ChunkMeta{cm(dgst, 1), cm(short, 1)}},
		{"size 0", []*pb.StatBlobResponse_ChunkMeta{cm(dgst, 0)}},
		{"sizes overflow", []*pb.StatBlobResponse_ChunkMeta{cm(dgst, math.MaxUint64), cm(dgst, 1)}},
	} {
		if _, err := pb.ToChunks(&pb.StatBlobResponse{Chunks: tc.chunks}); !errors.Is(err, castore.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", tc.name, err)
		}
	}
}
