package chunkfmt

import "github.com/castore-go/castore"

// The layout of a chunked store in its object store, tvix's:
//
//	chunks/b3/<hex[0:4]>/<hex>   one chunk, zstd-compressed (Encoder, DecodeChunk)
//	blobs/b3/<hex[0:4]>/<hex>    the blob index: a StatBlobResponse listing
//	                             the chunks in order (EncodeIndex, DecodeIndex)
//
// A blob of one chunk has no index (its digest is its chunk's); the empty
// blob has neither.

// ChunkKey is the object key of chunk d.
func ChunkKey(d castore.Digest) string { return shard("chunks/b3/", d) }

// IndexKey is the object key of blob d's index.
func IndexKey(d castore.Digest) string { return shard("blobs/b3/", d) }

func shard(prefix string, d castore.Digest) string {
	h := d.Hex()
	return prefix + h[:4] + "/" + h
}
