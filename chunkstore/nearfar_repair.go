package chunkstore

import (
	"context"

	"github.com/castore-go/castore"
)

// repairer is a near store that can replace a copy of its own that failed
// verification (Chunked). A near without it is read around: far answers
// every read of a damaged copy, with a warning each time.
type repairer interface {
	replaceChunk(ctx context.Context, d castore.Digest, comp, data []byte) error
	replaceIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta) error
}

// damaged notes that near's copy of d (a chunk, a blob, a blob index)
// failed verification: it is a miss, read from far and replaced; a
// warning names it and the cache, and castore_near_cache_damaged counts it.
func (nf *NearFar) damaged(ctx context.Context, what string, d castore.Digest, err error) {
	nf.m.nearDamaged.Add(ctx, 1)
	nf.o.Logger.Warn("near cache copy fails verification; reading it from far and replacing it", what, d.String(), "cache", nf.o.Name, "err", err)
}

// replaceChunk stores verified chunk d (comp as far passed it, if not
// nil, and its bytes) over near's damaged copy, and reports whether near
// holds it now.
func (nf *NearFar) replaceChunk(ctx context.Context, d castore.Digest, comp, data []byte) bool {
	r, ok := nf.near.(repairer)
	if !ok {
		nf.o.Logger.Warn("near cache cannot replace a damaged chunk; far will be read for it each time", "chunk", d.String(), "cache", nf.o.Name)
		return false
	}
	if err := r.replaceChunk(ctx, d, comp, data); err != nil {
		nf.o.Logger.Warn("near cache cannot replace a damaged chunk", "chunk", d.String(), "cache", nf.o.Name, "err", err)
		return false
	}
	return true
}

// replaceIndex stores blob d's index, as far has it, over near's damaged
// copy.
func (nf *NearFar) replaceIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta) {
	r, ok := nf.near.(repairer)
	if !ok {
		return
	}
	if err := r.replaceIndex(ctx, d, chunks); err != nil {
		nf.o.Logger.Warn("near cache cannot replace a damaged blob index", "blob", d.String(), "cache", nf.o.Name, "err", err)
	}
}
