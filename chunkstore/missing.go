package chunkstore

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
)

var _ castore.MissingFinder = (*Chunked)(nil)

// probeAhead is how many digests one Missing call asks the object store
// about at once. A digest not stored costs two requests one after another
// (sizeOf: its chunk key, its index; three while the layout not written
// holds chunks), so a call takes about 2 x len(ds) / probeAhead round
// trips: for an import's batch of 1024 against a bucket 10 ms away, 0.08
// s at 256, where the gRPC server's 32 at a time, three requests each,
// took almost a second, with one such call in flight per client. Each
// probe of a stored chunk reads it (Has), so this also bounds the
// buffers held: mostly small files, at worst 256 x a compressed chunk's
// bound.
const probeAhead = 256

// Missing returns those of ds that are stored neither as a blob nor as a
// chunk, in the order given, asking about up to probeAhead at once. Each
// is Has: a digest known stored (and fresh) costs nothing, one found
// stored is freshened (freshen.go), since the caller relies on it. The
// layout this store does not write is looked in only while it holds
// chunks (otherMayHold): a blob written there by another writer within
// the last few minutes may be answered missing, and is then uploaded
// again, in this store's layout.
func (c *Chunked) Missing(ctx context.Context, ds []castore.Digest) ([]castore.Digest, error) {
	other := c.otherMayHold(ctx)
	held := make([]bool, len(ds))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(probeAhead)
	for i, d := range ds {
		if d == castore.EmptyDigest || c.usable(d) {
			held[i] = true
			continue
		}
		g.Go(func() error {
			var err error
			held[i], err = c.has(gctx, d, other)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []castore.Digest
	for i, d := range ds {
		if !held[i] {
			out = append(out, d)
		}
	}
	return out, nil
}
