package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"golang.org/x/sync/singleflight"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
)

// NearFarOptions tune a NearFar store. The zero value is the default.
type NearFarOptions struct {
	// Write says where new blobs go (default WriteBoth).
	Write WriteTo
	// ReadAhead is how many chunks a reader fetches ahead (default 4).
	ReadAhead int
	// Logger gets a warning when near cannot take a chunk read from far
	// (the read still succeeds), and when a copy in near fails
	// verification (it is read from far and replaced). Default
	// slog.Default().
	Logger *slog.Logger
	// Name is how warnings name the cache (a service name, a directory).
	Name string
}

// NearFar is a read-through cache of two blob services: reads try near
// first; on a miss the chunk list comes from far, each chunk is read from
// near if it is there and from far otherwise, and every chunk read from far
// is verified and written into near, so the next read of the same bytes is
// local. When every chunk of a blob is in near and near is a
// castore.IndexPutter, the blob's index is written too. Concurrent reads
// of the same missing chunk fetch it from far once.
//
// Of the optional capabilities, it reads chunks compressed
// (castore.CompressedChunkReader: from near, filled from far) and reads
// one chunk through the cache (castore.ChunkReaderService); it refuses
// the two writers, as its writes go where its write policy says.
type NearFar struct {
	near, far castore.BlobService
	o         NearFarOptions
	flight    singleflight.Group
	m         *metrics
	// What prefetch has on the way, the chunks of split blobs that
	// readers wait for from far (prefetch waits for those: they are
	// what takes a link's bandwidth), and what prefetch brought in.
	pending    pendingSet
	demand     demandGauge
	prefetched prefetchedSet
	recent     recentSet // prefetched blobs' bytes, until their first read
}

var (
	_ castore.BlobService           = (*NearFar)(nil)
	_ castore.CompressedChunkReader = (*NearFar)(nil)
	_ castore.ChunkReaderService    = (*NearFar)(nil)
	_ castore.CompressedChunkWriter = (*NearFar)(nil)
	_ castore.IndexPutter           = (*NearFar)(nil)
)

// NewNearFar returns a read-through cache of far in near.
func NewNearFar(near, far castore.BlobService, o NearFarOptions) (*NearFar, error) {
	w, err := ParseWriteTo(string(o.Write))
	if err != nil {
		return nil, err
	}
	o.Write = w
	if o.ReadAhead <= 0 {
		o.ReadAhead = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &NearFar{near: near, far: far, o: o, m: newMetrics()}, nil
}

// Has asks far, the store of record: a blob is stored when far has it.
// Near may still hold a blob far has lost (garbage collection deleted it,
// or far was restored from a backup); a writer that skipped its upload on
// near's word would leave a root whose data far lacks, readable only
// through this cache until it evicts the copy.
func (nf *NearFar) Has(ctx context.Context, d castore.Digest) (bool, error) {
	return nf.far.Has(ctx, d)
}

// Chunks lists the chunks from near if near knows the blob, else from far.
func (nf *NearFar) Chunks(ctx context.Context, d castore.Digest) ([]castore.ChunkMeta, error) {
	chunks, err := nf.near.Chunks(ctx, d)
	if err == nil || !errors.Is(err, castore.ErrNotFound) {
		return chunks, err
	}
	return nf.far.Chunks(ctx, d)
}

// Open reads d through the cache. The chunk list comes from near when near
// has it, else from far; chunks come from near when it holds them intact,
// else from far (and are then written into near). A blob that far does not
// split is copied whole into near, verified, and read from there.
func (nf *NearFar) Open(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	if d == castore.EmptyDigest {
		return memReader{bytes.NewReader(nil)}, nil
	}
	// A prefetch bringing d: wait for it rather than ask far again.
	if err := nf.pending.wait(ctx, d); err != nil {
		return nil, err
	}
	chunks, err := nf.near.Chunks(ctx, d)
	badIndex := errors.Is(err, castore.ErrCorrupt)
	if badIndex {
		nf.damaged(ctx, "blob", d, err)
	}
	if err == nil && len(chunks) == 0 {
		// Near holds it unsplit (or as one chunk).
		r, err := nf.near.Open(ctx, d)
		if err == nil {
			nf.m.nearRead(ctx, true)
			if nf.prefetched.used(d) {
				nf.m.prefetchUsed.Add(ctx, 1)
			}
			return r, nil
		}
		if errors.Is(err, castore.ErrCorrupt) {
			nf.damaged(ctx, "blob", d, err)
			nf.m.nearRead(ctx, false)
			return nf.openWhole(ctx, d, true)
		}
		if !errors.Is(err, castore.ErrNotFound) {
			return nil, err
		}
	}
	fromFar := false
	if err != nil || len(chunks) == 0 {
		if err != nil && !errors.Is(err, castore.ErrNotFound) && !badIndex {
			return nil, fmt.Errorf("near: %w", err)
		}
		chunks, err = nf.far.Chunks(ctx, d)
		if err != nil {
			return nil, err
		}
		fromFar = true
		if badIndex && len(chunks) > 1 {
			nf.replaceIndex(ctx, d, chunks)
		}
	} else if nf.prefetched.used(d) {
		nf.m.prefetchUsed.Add(ctx, 1)
	}
	if len(chunks) == 0 {
		nf.m.nearRead(ctx, false)
		return nf.openWhole(ctx, d, badIndex)
	}
	fill := &indexFill{nf: nf, blob: d, chunks: chunks, have: make([]bool, len(chunks)), index: fromFar}
	return chunkfmt.NewChunkReader(ctx, chunks, fill.fetch, nf.o.ReadAhead), nil
}

// openWhole copies a blob far does not split into near, then reads it
// from near. If near cannot take it, it is read from far directly. With
// replace, near's copy failed verification: the one from far replaces it.
func (nf *NearFar) openWhole(ctx context.Context, d castore.Digest, replace bool) (castore.BlobReader, error) {
	v, err := nf.shared(ctx, "blob "+string(d[:]), func(ctx context.Context) (any, error) {
		// One chunk, as far keeps it.
		if fc, err := nf.fillCompressed(ctx, d, -1, replace); err != nil || fc != nil {
			if err != nil {
				return nil, err
			}
			if !fc.inNear {
				return fc.data, nil
			}
			return nil, nil
		}
		if replace {
			data, err := readWhole(ctx, nf.far, d)
			if err != nil {
				return nil, err
			}
			if !nf.replaceChunk(ctx, d, nil, data) {
				return data, nil
			}
			return nil, nil
		}
		r, err := nf.far.Open(ctx, d)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		w := nf.near.Create(ctx)
		if _, err := io.Copy(w, r); err != nil {
			if errors.Is(err, castore.ErrCorrupt) {
				return nil, fmt.Errorf("far: %w", err)
			}
			// Near failed to take it, or far failed: tell them apart by
			// trying far alone below.
			return nil, errNearFailed{err}
		}
		got, err := w.Close()
		if err != nil {
			return nil, errNearFailed{err}
		}
		if got != d {
			return nil, fmt.Errorf("blob %s: far returned bytes whose digest is %s: %w", d, got, castore.ErrCorrupt)
		}
		return nil, nil
	})
	var nearErr errNearFailed
	if errors.As(err, &nearErr) {
		nf.o.Logger.Warn("near cache cannot take a blob; reading it from far", "blob", d.String(), "err", nearErr.err)
		return nf.far.Open(ctx, d)
	}
	if err != nil {
		return nil, err
	}
	if data, ok := v.([]byte); ok {
		return memReader{bytes.NewReader(data)}, nil // near could not take it
	}
	return nf.near.Open(ctx, d)
}

type errNearFailed struct{ err error }

func (e errNearFailed) Error() string { return "near: " + e.err.Error() }

// readWhole reads blob d from s whole, as one chunk's worth at most, and
// verifies it.
func readWhole(ctx context.Context, s castore.BlobService, d castore.Digest) ([]byte, error) {
	r, err := s.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, chunkfmt.MaxChunkObject+1))
	if err != nil {
		return nil, fmt.Errorf("far: blob %s: %w", d, err)
	}
	if len(data) > chunkfmt.MaxChunkObject || castore.Sum(data) != d {
		return nil, fmt.Errorf("far: blob %s: not its bytes, or more than one chunk holds: %w", d, castore.ErrCorrupt)
	}
	return data, nil
}
