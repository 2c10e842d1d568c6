package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
)

// WriteTo says where a NearFar store writes new blobs.
type WriteTo string

const (
	// WriteBoth writes every blob to near and to far (the default): far
	// holds everything, and the writer's own near cache is warm.
	WriteBoth WriteTo = "both"
	// WriteNear writes only to near.
	WriteNear WriteTo = "near"
	// WriteFar writes only to far.
	WriteFar WriteTo = "far"
)

// ParseWriteTo parses "near", "far" or "both"; "" is WriteBoth.
func ParseWriteTo(s string) (WriteTo, error) {
	switch w := WriteTo(s); w {
	case "":
		return WriteBoth, nil
	case WriteBoth, WriteNear, WriteFar:
		return w, nil
	}
	return "", fmt.Errorf("write target %q: want near, far or both", s)
}

// NearFarOptions tune a NearFar store. The zero value is the default.
type NearFarOptions struct {
	// Write says where new blobs go (default WriteBoth).
	Write WriteTo
	// ReadAhead is how many chunks a reader fetches ahead (default 4).
	ReadAhead int
	// Logger gets a warning when near cannot take a chunk read from far
	// (the read still succeeds). Default slog.Default().
	Logger *slog.Logger
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
}

var _ castore.BlobService = (*NearFar)(nil)

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

// Has asks near, then far.
func (nf *NearFar) Has(ctx context.Context, d castore.Digest) (bool, error) {
	ok, err := nf.near.Has(ctx, d)
	if err != nil || ok {
		return ok, err
	}
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
	chunks, err := nf.near.Chunks(ctx, d)
	if err == nil && len(chunks) == 0 {
		// Near holds it unsplit (or as one chunk).
		r, err := nf.near.Open(ctx, d)
		if err == nil {
			nf.m.nearRead(ctx, true)
		}
		if err == nil || !errors.Is(err, castore.ErrNotFound) {
			return r, err
		}
	}
	fromFar := false
	if err != nil || len(chunks) == 0 {
		if err != nil && !errors.Is(err, castore.ErrNotFound) {
			return nil, fmt.Errorf("near: %w", err)
		}
		chunks, err = nf.far.Chunks(ctx, d)
		if err != nil {
			return nil, err
		}
		fromFar = true
	}
	if len(chunks) == 0 {
		nf.m.nearRead(ctx, false)
		return nf.openWhole(ctx, d)
	}
	fill := &indexFill{nf: nf, blob: d, chunks: chunks, have: make([]bool, len(chunks)), index: fromFar}
	return chunkfmt.NewChunkReader(ctx, chunks, fill.fetch, nf.o.ReadAhead), nil
}

// openWhole copies a blob far does not split into near, then reads it
// from near. If near cannot take it, it is read from far directly.
func (nf *NearFar) openWhole(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	v, err := nf.shared(ctx, "blob "+string(d[:]), func(ctx context.Context) (any, error) {
		// One chunk, as far keeps it.
		if fc, err := nf.fillCompressed(ctx, d, -1); err != nil || fc != nil {
			if err != nil {
				return nil, err
			}
			if !fc.inNear {
				return fc.data, nil
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

// farChunk is a chunk read compressed from far: its zstd data, its
// verified bytes, and whether near took it.
type farChunk struct {
	comp, data []byte
	inNear     bool
}

// fillCompressed reads chunk d from far as far stores it, verifies it
// (size is its length, or -1) and stores it in near as it came: no
// compressing again what far compressed. It returns nil, and no error, if
// far or near cannot pass chunks compressed, or far has no compressed copy
// of d that checks out: the caller reads d with Open then.
func (nf *NearFar) fillCompressed(ctx context.Context, d castore.Digest, size int64) (*farChunk, error) {
	if _, ok := nf.near.(castore.CompressedChunkWriter); !ok {
		return nil, nil
	}
	comp, err := castore.ReadCompressedChunk(ctx, nf.far, d)
	switch {
	case errors.Is(err, castore.ErrNotFound) || errors.Is(err, castore.ErrUnsupported):
		return nil, nil
	case err != nil:
		return nil, err
	}
	data, err := chunkfmt.DecodeChunk(d, comp, size)
	if err != nil {
		// Not into near. Far's Open may still read it: a gRPC far verifies
		// with its own far, which a damaged cache copy there bypasses.
		nf.o.Logger.Warn("far's compressed copy of a chunk does not check out; reading it with Open", "chunk", d.String(), "err", err)
		return nil, nil
	}
	fc := &farChunk{comp: comp, data: data, inNear: true}
	switch err := castore.PutCompressedChunk(ctx, nf.near, d, comp); {
	case errors.Is(err, castore.ErrUnsupported):
		// Near has the method but refuses (a wrapper of a store that
		// takes no compressed chunks): it takes the bytes.
		if fc.inNear, err = nf.putNear(ctx, d, data); err != nil {
			return nil, err
		}
	case err != nil:
		nf.o.Logger.Warn("near cache cannot take a chunk", "chunk", d.String(), "err", err)
		fc.inNear = false
	}
	return fc, nil
}

var (
	_ castore.CompressedChunkReader = (*NearFar)(nil)
	_ castore.ChunkReaderService    = (*NearFar)(nil)
	_ castore.CompressedChunkWriter = (*NearFar)(nil)
	_ castore.IndexPutter           = (*NearFar)(nil)
)

// ReadCompressedChunk hands over chunk d as near stores it. A chunk near
// lacks is read compressed from far, verified, and stored in near first;
// if far has no compressed copy, it is not found here (Open reads it).
// A near that keeps no compressed chunks makes this unsupported.
func (nf *NearFar) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	comp, err := castore.ReadCompressedChunk(ctx, nf.near, d)
	if err == nil {
		nf.m.nearRead(ctx, true)
		return comp, nil
	}
	if errors.Is(err, castore.ErrUnsupported) {
		return nil, fmt.Errorf("chunk %s: near keeps no compressed chunks: %w", d, err)
	}
	if !errors.Is(err, castore.ErrNotFound) {
		return nil, fmt.Errorf("near: %w", err)
	}
	nf.m.nearRead(ctx, false)
	v, err := nf.shared(ctx, "compressed "+string(d[:]), func(ctx context.Context) (any, error) {
		fc, err := nf.fillCompressed(ctx, d, -1)
		if err != nil {
			return nil, err
		}
		if fc == nil {
			return nil, fmt.Errorf("chunk %s: far has no compressed copy: %w", d, castore.ErrNotFound)
		}
		return fc.comp, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// sharedFetchTimeout bounds a fetch from far that several readers share:
// it does not stop when the reader that started it gives up.
const sharedFetchTimeout = 5 * time.Minute

// shared runs fetch once for all concurrent callers with the same key. The
// fetch runs on a context of its own (the first caller's values, not its
// cancellation), so a caller that gives up neither fails the others nor
// wastes the work; each caller waits only as long as its own context lets
// it.
func (nf *NearFar) shared(ctx context.Context, key string, fetch func(context.Context) (any, error)) (any, error) {
	ch := nf.flight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedFetchTimeout)
		defer cancel()
		return fetch(fctx)
	})
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

type errNearFailed struct{ err error }

func (e errNearFailed) Error() string { return "near: " + e.err.Error() }

// indexFill fetches the chunks of one open blob and, once they are all in
// near, writes the blob's index there.
type indexFill struct {
	nf     *NearFar
	blob   castore.Digest
	chunks []castore.ChunkMeta
	index  bool // the index came from far: write it into near when complete

	mu      sync.Mutex
	have    []bool
	nHave   int
	written bool
}

func (f *indexFill) fetch(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
	data, inNear, err := f.nf.chunk(ctx, cm)
	if err != nil {
		return nil, err
	}
	if inNear && f.index {
		f.noteInNear(ctx, cm)
	}
	return data, nil
}

func (f *indexFill) noteInNear(ctx context.Context, cm castore.ChunkMeta) {
	if _, ok := f.nf.near.(castore.IndexPutter); !ok {
		return // no bookkeeping for an index near cannot take
	}
	f.mu.Lock()
	for i, c := range f.chunks {
		if c.Digest == cm.Digest && !f.have[i] {
			f.have[i] = true
			f.nHave++
		}
	}
	complete := f.nHave == len(f.chunks) && !f.written
	if complete {
		f.written = true
	}
	f.mu.Unlock()
	if complete {
		if err := castore.PutIndex(ctx, f.nf.near, f.blob, f.chunks); err != nil && !errors.Is(err, castore.ErrUnsupported) {
			f.nf.o.Logger.Warn("near cache cannot take a blob index", "blob", f.blob.String(), "err", err)
		}
	}
}

// chunk returns the verified bytes of one chunk, from near when it holds
// them intact, else from far, writing them into near. inNear reports
// whether near holds the chunk afterwards.
func (nf *NearFar) chunk(ctx context.Context, cm castore.ChunkMeta) (data []byte, inNear bool, err error) {
	data, err = readChunk(ctx, nf.near, cm)
	if err == nil {
		nf.m.nearRead(ctx, true)
		return data, true, nil
	}
	nf.m.nearRead(ctx, false)
	if !errors.Is(err, castore.ErrNotFound) && !errors.Is(err, castore.ErrCorrupt) {
		return nil, false, fmt.Errorf("near: %w", err)
	}
	type result struct {
		data   []byte
		inNear bool
	}
	v, err := nf.shared(ctx, "chunk "+string(cm.Digest[:]), func(ctx context.Context) (any, error) {
		// A fetch that ended between our look into near and this one
		// has put the chunk there: far is asked for each chunk once.
		if data, err := readChunk(ctx, nf.near, cm); err == nil {
			return result{data, true}, nil
		}
		if fc, err := nf.fillCompressed(ctx, cm.Digest, int64(cm.Size)); err != nil || fc != nil {
			if err != nil {
				return nil, err
			}
			return result{fc.data, fc.inNear}, nil
		}
		data, err := readChunk(ctx, nf.far, cm)
		if err != nil {
			return nil, err
		}
		inNear, err := nf.putNear(ctx, cm.Digest, data)
		if err != nil {
			return nil, err
		}
		return result{data, inNear}, nil
	})
	if err != nil {
		return nil, false, err
	}
	r := v.(result)
	return r.data, r.inNear, nil
}

// putNear writes chunk d's verified bytes into near. inNear is false if
// near cannot take them (the read goes on; a warning says why).
func (nf *NearFar) putNear(ctx context.Context, d castore.Digest, data []byte) (inNear bool, err error) {
	w := nf.near.Create(ctx)
	_, werr := w.Write(data)
	got, cerr := w.Close()
	switch {
	case werr != nil || cerr != nil:
		nf.o.Logger.Warn("near cache cannot take a chunk", "chunk", d.String(), "err", errors.Join(werr, cerr))
		return false, nil
	case got != d:
		return false, fmt.Errorf("chunk %s: near stored it as %s: %w", d, got, castore.ErrCorrupt)
	}
	return true, nil
}

// ReadChunk reads one chunk through the cache, as a reader of a blob
// holding it would.
func (nf *NearFar) ReadChunk(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
	data, _, err := nf.chunk(ctx, cm)
	return data, err
}

// PutCompressedChunk is refused: a write goes where the write policy
// says, through Create.
func (nf *NearFar) PutCompressedChunk(ctx context.Context, d castore.Digest, comp []byte) error {
	return fmt.Errorf("put chunk %s compressed: a near/far cache takes writes through Create: %w", d, castore.ErrUnsupported)
}

// PutIndex is refused: a write goes where the write policy says, through
// Create.
func (nf *NearFar) PutIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta) error {
	return fmt.Errorf("put index of blob %s: a near/far cache takes writes through Create: %w", d, castore.ErrUnsupported)
}

// readChunk reads one chunk whole from s and checks its size and digest:
// with s's ReadChunk if it has one, else with Open.
func readChunk(ctx context.Context, s castore.BlobService, cm castore.ChunkMeta) ([]byte, error) {
	if data, err := castore.ReadChunk(ctx, s, cm); !errors.Is(err, castore.ErrUnsupported) {
		return data, err
	}
	r, err := s.Open(ctx, cm.Digest)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data := make([]byte, 0, cm.Size)
	buf := bytes.NewBuffer(data)
	if _, err := io.Copy(buf, io.LimitReader(r, int64(cm.Size)+1)); err != nil {
		return nil, fmt.Errorf("read chunk %s: %w", cm.Digest, err)
	}
	data = buf.Bytes()
	if uint64(len(data)) != cm.Size {
		return nil, fmt.Errorf("chunk %s: %d bytes, the index says %d: %w", cm.Digest, len(data), cm.Size, castore.ErrCorrupt)
	}
	if castore.Sum(data) != cm.Digest {
		return nil, fmt.Errorf("chunk %s: content does not match its digest: %w", cm.Digest, castore.ErrCorrupt)
	}
	return data, nil
}

// Create writes a new blob where the options say. With WriteBoth the
// bytes go to both as they are written, and Close fails if either fails.
func (nf *NearFar) Create(ctx context.Context) castore.BlobWriter {
	switch nf.o.Write {
	case WriteNear:
		return nf.near.Create(ctx)
	case WriteFar:
		return nf.far.Create(ctx)
	}
	return &bothWriter{near: nf.near.Create(ctx), far: nf.far.Create(ctx)}
}

type bothWriter struct {
	near, far castore.BlobWriter
}

func (w *bothWriter) Write(p []byte) (int, error) {
	if n, err := w.far.Write(p); err != nil {
		return n, fmt.Errorf("far: %w", err)
	}
	if n, err := w.near.Write(p); err != nil {
		return n, fmt.Errorf("near: %w", err)
	}
	return len(p), nil
}

func (w *bothWriter) Close() (castore.Digest, error) {
	fd, ferr := w.far.Close()
	nd, nerr := w.near.Close()
	switch {
	case ferr != nil:
		return castore.Digest{}, fmt.Errorf("far: %w", ferr)
	case nerr != nil:
		return castore.Digest{}, fmt.Errorf("near: %w", nerr)
	case fd != nd:
		return castore.Digest{}, fmt.Errorf("near stored %s, far stored %s: %w", nd, fd, castore.ErrCorrupt)
	}
	return fd, nil
}
