package chunkfmt_test

import (
	"errors"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
)

func TestHostileIndex(t *testing.T) {
	for _, b := range [][]byte{{0xff}, {0x12, 0x02, 0x0a, 0x01}, chunkfmt.EncodeIndex(nil),
		chunkfmt.EncodeIndex([]castore.ChunkMeta{{Digest: castore.EmptyDigest, Size: 0}}),
		chunkfmt.EncodeIndex([]castore.ChunkMeta{{Size: 1 << 63}, {Size: 1 << 63}})} {
		if _, err := chunkfmt.DecodeIndex(b); !errors.Is(err, castore.ErrCorrupt) {
			t.Errorf("DecodeIndex(%x) = %v", b, err)
		}
	}
}

// FuzzDecodeIndex: never panics; what decodes re-encodes to an index that
// decodes to the same chunks.
//
//	go test ./chunkfmt -run '^$' -fuzz FuzzDecodeIndex -fuzztime 1m
func FuzzDecodeIndex(f *testing.F) {
	f.Add(chunkfmt.EncodeIndex([]castore.ChunkMeta{{Digest: castore.EmptyDigest, Size: 3}}))
	f.Add([]byte{0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := chunkfmt.DecodeIndex(b)
		if err != nil {
			return
		}
		again, err := chunkfmt.DecodeIndex(chunkfmt.EncodeIndex(cs))
		if err != nil || len(again) != len(cs) {
			t.Fatalf("re-encoded index: %v", err)
		}
	})
}
