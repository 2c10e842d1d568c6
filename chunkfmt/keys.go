package chunkfmt

import (
	"fmt"

	"github.com/castore-go/castore"
)

// The layout of a chunked store in its object store, tvix's:
//
//	chunks/b3/<hex[0:4]>/<hex>   one chunk, zstd-compressed (Encoder, DecodeChunk)
//	blobs/b3/<hex[0:4]>/<hex>    the blob index: a StatBlobResponse listing
//	                             the chunks in order (EncodeIndex, DecodeIndex)
//
// A blob of one chunk has no index (its digest is its chunk's); the empty
// blob has neither. snix's object-store chunk store keeps its chunks at
// chunk/b3/<hex[0:4]>/<hex> instead (ChunkLayoutSnix), the rest alike.

// ChunkKey is the object key of chunk d in tvix's layout.
func ChunkKey(d castore.Digest) string { return shard("chunks/b3/", d) }

// ChunkLayout says under which prefix chunks are kept: tvix's and
// castore's chunks/ or snix's chunk/. A chunked store writes one and
// reads both.
type ChunkLayout string

const (
	ChunkLayoutTvix ChunkLayout = "tvix" // chunks/b3/...
	ChunkLayoutSnix ChunkLayout = "snix" // chunk/b3/...
)

// ParseChunkLayout parses "tvix" or "snix"; "" is tvix's.
func ParseChunkLayout(s string) (ChunkLayout, error) {
	switch l := ChunkLayout(s); l {
	case "":
		return ChunkLayoutTvix, nil
	case ChunkLayoutTvix, ChunkLayoutSnix:
		return l, nil
	}
	return "", fmt.Errorf("chunk layout %q: want tvix (chunks/b3/) or snix (chunk/b3/)", s)
}

// ChunkKey is the object key of chunk d in layout l.
func (l ChunkLayout) ChunkKey(d castore.Digest) string {
	if l == ChunkLayoutSnix {
		return shard("chunk/b3/", d)
	}
	return ChunkKey(d)
}

// Other is the layout that is not l.
func (l ChunkLayout) Other() ChunkLayout {
	if l == ChunkLayoutSnix {
		return ChunkLayoutTvix
	}
	return ChunkLayoutSnix
}

// IndexKey is the object key of blob d's index.
func IndexKey(d castore.Digest) string { return shard("blobs/b3/", d) }

func shard(prefix string, d castore.Digest) string {
	h := d.Hex()
	return prefix + h[:4] + "/" + h
}
