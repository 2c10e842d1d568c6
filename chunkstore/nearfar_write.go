package chunkstore

import (
	"context"
	"fmt"

	"github.com/castore-go/castore"
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

var _ castore.ChunkUploader = (*NearFar)(nil)

// CreateChunked is refused: a write goes where the write policy says,
// through Create.
func (nf *NearFar) CreateChunked(ctx context.Context) (castore.BlobWriter, error) {
	return nil, fmt.Errorf("create a blob cut here: a near/far cache takes writes through Create: %w", castore.ErrUnsupported)
}

var _ castore.MissingFinder = (*NearFar)(nil)

// Missing is refused: near and far are asked with Has, one digest at a
// time.
func (nf *NearFar) Missing(ctx context.Context, ds []castore.Digest) ([]castore.Digest, error) {
	return nil, fmt.Errorf("find missing blobs: a near/far cache asks near and far with Has: %w", castore.ErrUnsupported)
}
