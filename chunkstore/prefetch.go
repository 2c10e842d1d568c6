package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
)

// Prefetch batches: at most this many blobs, and about this many bytes
// (by the sizes given), per call to far. Small batches keep a demand read
// that arrives meanwhile from waiting long behind one.
const (
	prefetchBatchBlobs = 256
	prefetchBatchBytes = 4 << 20
)

var _ castore.Prefetcher = (*NearFar)(nil)

// Prefetch brings blobs that far keeps as one chunk into near before
// anyone reads them, many per call to far (castore.BatchChunkReader), as
// far stores them, each verified before near takes it. Blobs near has are
// skipped; so are blobs far keeps no compressed copy of (a blob of
// several chunks, a far without them): their readers fetch them. A read
// of a blob while its batch is on the way waits for the batch instead of
// asking far again. Each batch waits until no reader is waiting for a
// chunk of a split blob from far, so a prefetch takes the link only when
// large demand reads leave it idle (small ones, one chunk each, do not
// hold it back: they cost little of the link, and most are of files the
// prefetch is about to bring). A far that cannot batch makes Prefetch
// unsupported (castore.ErrUnsupported); a near that cannot take
// compressed chunks likewise.
func (nf *NearFar) Prefetch(ctx context.Context, blobs []castore.ChunkMeta) error {
	return nf.fetchInto(ctx, blobs, true)
}

// fetchInto brings blobs into near in batches: ahead of their reads
// (prefetch: behind demand reads, and counted), or for a read that waits
// for it (OpenSized).
func (nf *NearFar) fetchInto(ctx context.Context, blobs []castore.ChunkMeta, ahead bool) error {
	if _, ok := nf.far.(castore.BatchChunkReader); !ok {
		return fmt.Errorf("prefetch: far cannot read chunks in batches: %w", errors.ErrUnsupported)
	}
	var batch []castore.ChunkMeta
	var bytes uint64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := nf.prefetchBatch(ctx, batch, ahead)
		batch, bytes = batch[:0], 0
		return err
	}
	for _, b := range blobs {
		if b.Digest == castore.EmptyDigest || b.Size > chunkfmt.MaxChunkObject {
			continue
		}
		if ok, err := nf.nearHolds(ctx, b.Digest); err != nil || ok {
			if err != nil {
				return fmt.Errorf("prefetch: near: %w", err)
			}
			continue
		}
		batch = append(batch, b)
		bytes += b.Size
		if len(batch) >= prefetchBatchBlobs || bytes >= prefetchBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// PrefetchStats counts what Prefetch brought into near, and what of that
// has been read through this cache since.
func (nf *NearFar) PrefetchStats() castore.PrefetchStats {
	return nf.prefetched.stats()
}

// prefetchBatch fetches one batch from far into near, once no demand read
// is fetching from far.
func (nf *NearFar) prefetchBatch(ctx context.Context, batch []castore.ChunkMeta, ahead bool) error {
	if ahead { // a reader waiting for it does not wait behind others
		if err := nf.demand.waitIdle(ctx); err != nil {
			return err
		}
	}
	ds := make([]castore.Digest, len(batch))
	sizes := make(map[castore.Digest]uint64, len(batch))
	for i, b := range batch {
		ds[i] = b.Digest
		sizes[b.Digest] = b.Size
	}
	done := nf.pending.add(ds)
	defer done()
	var n, bytes int64
	var split []castore.ChunkMeta // blobs far keeps in several chunks
	err := castore.ReadCompressedChunks(ctx, nf.far, ds, func(d castore.Digest, comp []byte) error {
		if comp == nil {
			split = append(split, castore.ChunkMeta{Digest: d, Size: sizes[d]})
			return nil // still pending: its chunks come next
		}
		defer nf.pending.finish(d)
		data, err := chunkfmt.DecodeChunk(d, comp, int64(sizes[d]))
		if err != nil {
			nf.o.Logger.Warn("prefetch: far's compressed copy of a chunk does not check out; leaving it to its reader", "chunk", d.String(), "err", err)
			return nil
		}
		if err := castore.PutCompressedChunk(ctx, nf.near, d, comp); err != nil {
			if errors.Is(err, castore.ErrUnsupported) {
				return fmt.Errorf("prefetch: near cannot take compressed chunks: %w", err)
			}
			nf.o.Logger.Warn("prefetch: near cache cannot take a chunk", "chunk", d.String(), "err", err)
			return nil
		}
		if ahead {
			nf.prefetched.add(d, sizes[d])
			nf.recent.put(d, data)
		}
		n++
		bytes += int64(sizes[d])
		return nil
	})
	if err == nil && len(split) > 0 {
		err = nf.prefetchSplit(ctx, split, ahead)
	}
	if ahead {
		nf.m.prefetch(ctx, n, bytes)
	}
	if err != nil {
		return fmt.Errorf("prefetch: far: %w", err)
	}
	return nil
}

// prefetchSplitLists is how many chunk lists of split blobs are asked of
// far at once.
const prefetchSplitLists = 8

// prefetchSplit brings blobs that far keeps in several chunks into near:
// their chunk lists (a few at once), then their chunks in batches, each
// verified, then their indexes, so that reading them is local. A blob
// far does not know, or whose chunks do not all arrive, is left to its
// reader.
func (nf *NearFar) prefetchSplit(ctx context.Context, blobs []castore.ChunkMeta, ahead bool) error {
	lists := make([][]castore.ChunkMeta, len(blobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(prefetchSplitLists)
	for i, b := range blobs {
		g.Go(func() error {
			chunks, err := nf.far.Chunks(gctx, b.Digest)
			if err == nil && len(chunks) > 0 && totalSize(chunks) == b.Size {
				lists[i] = chunks
			}
			return nil // left to its reader
		})
	}
	g.Wait()
	var want []castore.ChunkMeta
	seen := map[castore.Digest]bool{}
	for _, chunks := range lists {
		for _, cm := range chunks {
			if seen[cm.Digest] {
				continue
			}
			seen[cm.Digest] = true
			if ok, err := nf.nearHolds(ctx, cm.Digest); err == nil && !ok {
				want = append(want, cm)
			}
		}
	}
	have := map[castore.Digest]bool{}
	for len(want) > 0 {
		k, bytes := 0, uint64(0)
		for k < len(want) && k < prefetchBatchBlobs && bytes < prefetchBatchBytes {
			bytes += want[k].Size
			k++
		}
		batch := want[:k]
		want = want[k:]
		ds := make([]castore.Digest, len(batch))
		sizes := map[castore.Digest]uint64{}
		for i, cm := range batch {
			ds[i], sizes[cm.Digest] = cm.Digest, cm.Size
		}
		err := castore.ReadCompressedChunks(ctx, nf.far, ds, func(d castore.Digest, comp []byte) error {
			if comp == nil {
				return nil
			}
			if _, err := chunkfmt.DecodeChunk(d, comp, int64(sizes[d])); err != nil {
				nf.o.Logger.Warn("prefetch: far's compressed copy of a chunk does not check out; leaving it to its reader", "chunk", d.String(), "err", err)
				return nil
			}
			if err := castore.PutCompressedChunk(ctx, nf.near, d, comp); err == nil {
				have[d] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i, b := range blobs {
		chunks := lists[i]
		if len(chunks) == 0 {
			continue
		}
		complete := true
		for _, cm := range chunks {
			if !have[cm.Digest] {
				if ok, err := nf.nearHolds(ctx, cm.Digest); err != nil || !ok {
					complete = false
					break
				}
			}
		}
		if !complete {
			continue
		}
		if err := castore.PutIndex(ctx, nf.near, b.Digest, chunks); err != nil {
			continue // its reader reads the list from far, the chunks from near
		}
		if ahead {
			nf.prefetched.add(b.Digest, b.Size)
		}
		nf.pending.finish(b.Digest)
	}
	return nil
}

// recentBytes bounds the prefetched blobs kept decoded for their first
// read.
const recentBytes = 16 << 20

// recentSet keeps the bytes of blobs prefetch has just verified (and put
// into near) until their first read through OpenSized, which then need
// not read and decode them again: a reader following a prefetch (tar
// behind dir mode) reads most files so. Within recentBytes; a blob that
// does not fit is read from near as any other.
type recentSet struct {
	mu    sync.Mutex
	m     map[castore.Digest][]byte
	bytes int
}

func (r *recentSet) put(d castore.Digest, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[d]; ok || r.bytes+len(data) > recentBytes || len(data) == 0 {
		return
	}
	if r.m == nil {
		r.m = map[castore.Digest][]byte{}
	}
	r.m[d] = data
	r.bytes += len(data)
}

// take returns and forgets d's bytes, or nil.
func (r *recentSet) take(d castore.Digest) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, ok := r.m[d]
	if ok {
		delete(r.m, d)
		r.bytes -= len(data)
	}
	return data
}

// pendingSet is the set of blobs whose prefetch batch is on the way, each
// with a channel closed when it has arrived (or will not).
type pendingSet struct {
	mu sync.Mutex
	m  map[castore.Digest]chan struct{}
}

// add marks ds pending; done finishes whatever of them is still pending.
func (p *pendingSet) add(ds []castore.Digest) (done func()) {
	p.mu.Lock()
	if p.m == nil {
		p.m = map[castore.Digest]chan struct{}{}
	}
	var mine []castore.Digest
	for _, d := range ds {
		if _, ok := p.m[d]; !ok {
			p.m[d] = make(chan struct{})
			mine = append(mine, d)
		}
	}
	p.mu.Unlock()
	return func() {
		for _, d := range mine {
			p.finish(d)
		}
	}
}

func (p *pendingSet) finish(d castore.Digest) {
	p.mu.Lock()
	if ch, ok := p.m[d]; ok {
		close(ch)
		delete(p.m, d)
	}
	p.mu.Unlock()
}

// wait waits until d is not pending, or ctx ends.
func (p *pendingSet) wait(ctx context.Context, d castore.Digest) error {
	p.mu.Lock()
	ch := p.m[d]
	p.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// demandGauge counts the fetches from far that a reader is waiting for.
type demandGauge struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0; nil until first needed
}

func (g *demandGauge) begin() {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
}

func (g *demandGauge) end() {
	g.mu.Lock()
	g.n--
	if g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
}

// waitIdle waits until no demand fetch runs, or ctx ends.
func (g *demandGauge) waitIdle(ctx context.Context) error {
	for {
		g.mu.Lock()
		if g.n == 0 {
			g.mu.Unlock()
			return nil
		}
		if g.idle == nil {
			g.idle = make(chan struct{})
		}
		ch := g.idle
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// prefetchedSet remembers the blobs prefetch brought in until their first
// read, to count how much of what it fetched was used.
type prefetchedSet struct {
	mu sync.Mutex
	m  map[castore.Digest]uint64 // blob -> size, until its first read
	st castore.PrefetchStats
}

func (s *prefetchedSet) add(d castore.Digest, size uint64) {
	s.mu.Lock()
	if s.m == nil {
		s.m = map[castore.Digest]uint64{}
	}
	if _, ok := s.m[d]; !ok {
		s.m[d] = size
		s.st.Blobs++
		s.st.Bytes += int64(size)
	}
	s.mu.Unlock()
}

// used reports whether d was prefetched and not read since, counting it
// used and forgetting it.
func (s *prefetchedSet) used(d castore.Digest) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	size, ok := s.m[d]
	if ok {
		delete(s.m, d)
		s.st.UsedBlobs++
		s.st.UsedBytes += int64(size)
	}
	return ok
}

func (s *prefetchedSet) stats() castore.PrefetchStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// totalSize is the sum of the chunks' sizes (the chunk list checked its
// overflow when it was decoded).
func totalSize(chunks []castore.ChunkMeta) uint64 {
	var n uint64
	for _, cm := range chunks {
		n += cm.Size
	}
	return n
}

// sizedOpenMax is the largest blob OpenSized fetches in one batch.
const sizedOpenMax = 1 << 20

var _ castore.SizedOpener = (*NearFar)(nil)

// OpenSized opens a blob of the given size through the cache. One that
// is small (at most 1 MiB) is first read from near as the one chunk it
// mostly is: a single read, verified, with no chunk list asked for. If
// near lacks it, it is brought from far in one batch (one call for a blob
// far keeps as one chunk, instead of a chunk list and then the chunk), then
// read from near; anything else opens as Open does. The size is checked
// against the blob's.
func (nf *NearFar) OpenSized(ctx context.Context, d castore.Digest, size uint64) (castore.BlobReader, error) {
	if d != castore.EmptyDigest && size <= sizedOpenMax {
		if err := nf.pending.wait(ctx, d); err != nil {
			return nil, err
		}
		if data := nf.recent.take(d); uint64(len(data)) == size && data != nil {
			// Prefetched and verified a moment ago: no need to read
			// and decode it again.
			nf.m.nearRead(ctx, true)
			if nf.prefetched.used(d) {
				nf.m.prefetchUsed.Add(ctx, 1)
			}
			return memReader{bytes.NewReader(data)}, nil
		}
		if r := nf.openNearChunk(ctx, d, size); r != nil {
			return r, nil
		}
		if ok, err := nf.nearHolds(ctx, d); err == nil && !ok {
			if _, batches := nf.far.(castore.BatchChunkReader); batches {
				// A failure here leaves the blob to Open.
				if nf.fetchInto(ctx, []castore.ChunkMeta{{Digest: d, Size: size}}, false) == nil {
					if r := nf.openNearChunk(ctx, d, size); r != nil {
						return r, nil
					}
				}
			}
		}
	}
	r, err := nf.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	return castore.CheckedSize(r, d, size)
}

// openNearChunk reads blob d of the given size whole from near as one
// chunk (decompressed, its size and digest checked), or returns nil if
// near does not hold it so, cannot read it, or holds a copy that does not
// check out: Open then finds out which and says so (a damaged copy is
// replaced from far there).
func (nf *NearFar) openNearChunk(ctx context.Context, d castore.Digest, size uint64) castore.BlobReader {
	data, err := castore.ReadChunk(ctx, nf.near, castore.ChunkMeta{Digest: d, Size: size})
	if err != nil {
		return nil
	}
	nf.m.nearRead(ctx, true)
	if nf.prefetched.used(d) {
		nf.m.prefetchUsed.Add(ctx, 1)
	}
	return memReader{bytes.NewReader(data)}
}

// holder is a near store that tells whether it holds a blob or chunk
// without reading it (Chunked: the object store's index of keys).
type holder interface {
	holds(ctx context.Context, d castore.Digest) (bool, error)
}

// nearHolds reports whether near holds d (as a chunk or as an index),
// cheaply if near can tell without reading it: whether to fetch it from
// far. Whether the copy is intact is for its reader to find out.
func (nf *NearFar) nearHolds(ctx context.Context, d castore.Digest) (bool, error) {
	if h, ok := nf.near.(holder); ok {
		return h.holds(ctx, d)
	}
	return nf.near.Has(ctx, d)
}
