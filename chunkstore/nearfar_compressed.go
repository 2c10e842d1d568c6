package chunkstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
)

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
// of d that checks out: the caller reads d with Open then. With replace,
// near's copy failed verification, and the one from far replaces it.
func (nf *NearFar) fillCompressed(ctx context.Context, d castore.Digest, size int64, replace bool) (*farChunk, error) {
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
	if replace {
		fc.inNear = nf.replaceChunk(ctx, d, comp, data)
		return fc, nil
	}
	switch err := castore.PutCompressedChunk(ctx, nf.near, d, comp); {
	case errors.Is(err, castore.ErrUnsupported):
		// Near has the method but refuses (a wrapper of a store that
		// takes no compressed chunks): it takes the bytes.
		if fc.inNear, err = nf.putNear(ctx, d, data, false); err != nil {
			return nil, err
		}
	case err != nil:
		nf.o.Logger.Warn("near cache cannot take a chunk", "chunk", d.String(), "err", err)
		fc.inNear = false
	}
	return fc, nil
}

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
		fc, err := nf.fillCompressed(ctx, d, -1, false)
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
