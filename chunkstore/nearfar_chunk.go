package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/castore-go/castore"
)

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
	damaged := errors.Is(err, castore.ErrCorrupt)
	if !damaged && !errors.Is(err, castore.ErrNotFound) {
		return nil, false, fmt.Errorf("near: %w", err)
	}
	if damaged {
		nf.damaged(ctx, "chunk", cm.Digest, err)
	}
	type result struct {
		data   []byte
		inNear bool
	}
	nf.demand.begin()
	defer nf.demand.end()
	v, err := nf.shared(ctx, "chunk "+string(cm.Digest[:]), func(ctx context.Context) (any, error) {
		// A fetch that ended between our look into near and this one
		// has put the chunk there: far is asked for each chunk once.
		if !damaged {
			if data, err := readChunk(ctx, nf.near, cm); err == nil {
				return result{data, true}, nil
			}
		}
		if fc, err := nf.fillCompressed(ctx, cm.Digest, int64(cm.Size), damaged); err != nil || fc != nil {
			if err != nil {
				return nil, err
			}
			return result{fc.data, fc.inNear}, nil
		}
		data, err := readChunk(ctx, nf.far, cm)
		if err != nil {
			return nil, err
		}
		inNear, err := nf.putNear(ctx, cm.Digest, data, damaged)
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

// putNear writes chunk d's verified bytes into near, over a damaged copy
// there with replace. inNear is false if near cannot take them (the read
// goes on; a warning says why).
func (nf *NearFar) putNear(ctx context.Context, d castore.Digest, data []byte, replace bool) (inNear bool, err error) {
	if replace {
		return nf.replaceChunk(ctx, d, nil, data), nil
	}
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
