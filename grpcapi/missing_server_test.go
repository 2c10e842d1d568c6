package grpcapi_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
)

// answersMissing is a chunked store whose Missing answers as told.
type answersMissing struct {
	*chunkstore.Chunked
	answer func(ds []castore.Digest) ([]castore.Digest, error)
}

func (a answersMissing) Missing(ctx context.Context, ds []castore.Digest) ([]castore.Digest, error) {
	return a.answer(ds)
}

// ChunkService.Missing asks a store that answers in batches with its
// Missing: what it says goes back as said; an answer that is no ordered
// part of the question is INTERNAL, not passed on; a store's failure is
// its status (UNAVAILABLE for a store not reached); a store that refuses is asked with Has.
func TestMissingServerAsksTheStore(t *testing.T) {
	a := castore.Sum([]byte("a"))
	b := castore.Sum([]byte("b"))
	c := castore.Sum([]byte("c"))
	for _, tc := range []struct {
		name   string
		answer func(ds []castore.Digest) ([]castore.Digest, error)
		want   []castore.Digest
		code   codes.Code
	}{
		{"as said", func(ds []castore.Digest) ([]castore.Digest, error) { return []castore.Digest{a, c}, nil }, []castore.Digest{a, c}, codes.OK},
		{"none", func(ds []castore.Digest) ([]castore.Digest, error) { return nil, nil }, nil, codes.OK},
		{"out of order", func(ds []castore.Digest) ([]castore.Digest, error) { return []castore.Digest{c, a}, nil }, nil, codes.Internal},
		{"not asked", func(ds []castore.Digest) ([]castore.Digest, error) {
			return []castore.Digest{castore.Sum([]byte("d"))}, nil
		}, nil, codes.Internal},
		{"twice", func(ds []castore.Digest) ([]castore.Digest, error) { return []castore.Digest{b, b}, nil }, nil, codes.Internal},
		{"failing", func(ds []castore.Digest) ([]castore.Digest, error) {
			return nil, errors.New("bucket unreachable")
		}, nil, codes.Unavailable},
		{"refused", func(ds []castore.Digest) ([]castore.Digest, error) {
			return nil, castore.ErrUnsupported
		}, []castore.Digest{a, b, c}, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newWireEnv(t, answersMissing{chunked(t), tc.answer}, dirstore.NewMemory())
			resp, err := pb.NewChunkServiceClient(e.conn).Missing(ctxT(t), &pb.MissingRequest{Digests: [][]byte{a[:], b[:], c[:]}})
			wantCode(t, "Missing", err, tc.code)
			if err != nil {
				return
			}
			var got []castore.Digest
			for _, m := range resp.GetMissing() {
				d, _ := castore.DigestFromBytes(m)
				got = append(got, d)
			}
			if !equalDigests(got, tc.want) {
				t.Errorf("Missing = %v, want %v", got, tc.want)
			}
		})
	}
}
