package chunkstore

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

var (
	_ castore.BlobStatter = (*Chunked)(nil)
	_ castore.BlobStatter = (*Memory)(nil)
	_ castore.BlobStatter = (*NearFar)(nil)
)

// StatBlobs tells the sizes of blobs: a blob this store wrote or read
// costs nothing (the known set), any other one a request or two, Uploads
// of them at once. A blob of one chunk is read (its object has only its
// compressed size; the frame declares the other); a blob of several, its
// index.
func (c *Chunked) StatBlobs(ctx context.Context, ds []castore.Digest, fn func(castore.Digest, uint64, bool) error) error {
	sizes := make([]int64, len(ds))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.o.Uploads)
	for i, d := range ds {
		if d == castore.EmptyDigest {
			continue
		}
		if s, ok := c.known.size(d); ok {
			sizes[i] = int64(s)
			continue
		}
		g.Go(func() error {
			s, err := c.statOne(gctx, d)
			sizes[i] = s
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, d := range ds {
		if err := fn(d, uint64(max(sizes[i], 0)), sizes[i] >= 0); err != nil {
			return err
		}
	}
	return nil
}

// statOne returns d's size, or -1 if it is not stored, and remembers it.
func (c *Chunked) statOne(ctx context.Context, d castore.Digest) (int64, error) {
	if n, err := c.chunkSize(ctx, d); err == nil {
		c.known.addSize(d, n)
		return n, nil
	} else if !errors.Is(err, objectstore.ErrNotFound) {
		return 0, fmt.Errorf("stat blob %s: %w", d, err)
	}
	chunks, err := c.readIndex(ctx, d)
	if errors.Is(err, objectstore.ErrNotFound) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stat blob %s: %w", d, err)
	}
	var size uint64
	for _, cm := range chunks {
		size += cm.Size // DecodeIndex checked the total fits
	}
	if size > 1<<63-1 {
		return 0, fmt.Errorf("stat blob %s: index sums to %d bytes: %w", d, size, castore.ErrCorrupt)
	}
	c.known.addSize(d, int64(size))
	return int64(size), nil
}

// StatBlobs tells the sizes of the blobs held.
func (m *Memory) StatBlobs(ctx context.Context, ds []castore.Digest, fn func(castore.Digest, uint64, bool) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, d := range ds {
		b, ok := m.get(d)
		if err := fn(d, uint64(len(b)), ok); err != nil {
			return err
		}
	}
	return nil
}

// StatBlobs asks near, then far about what near lacks. A blob's size is
// its digest's, wherever it is kept.
func (nf *NearFar) StatBlobs(ctx context.Context, ds []castore.Digest, fn func(castore.Digest, uint64, bool) error) error {
	sizes := make(map[castore.Digest]uint64, len(ds))
	var rest []castore.Digest
	err := castore.StatBlobs(ctx, nf.near, ds, func(d castore.Digest, size uint64, ok bool) error {
		if ok {
			sizes[d] = size
		} else {
			rest = append(rest, d)
		}
		return nil
	})
	if errors.Is(err, castore.ErrUnsupported) {
		rest, err = ds, nil
	}
	if err != nil {
		return fmt.Errorf("near: %w", err)
	}
	if len(rest) > 0 {
		err := castore.StatBlobs(ctx, nf.far, rest, func(d castore.Digest, size uint64, ok bool) error {
			if ok {
				sizes[d] = size
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, d := range ds {
		size, ok := sizes[d]
		if err := fn(d, size, ok); err != nil {
			return err
		}
	}
	return nil
}

// chunkSize reads chunk d's object and returns the size its frame
// declares, or, for a frame that declares none, the size it decompresses
// to (verified then).
func (c *Chunked) chunkSize(ctx context.Context, d castore.Digest) (int64, error) {
	buf := getCompBuf()
	defer putCompBuf(buf)
	if err := c.readObject(ctx, d, chunkfmt.CompressedLimit(-1), buf); err != nil {
		return 0, err
	}
	if size, ok := chunkfmt.ContentSize(buf.Bytes()); ok {
		return size, nil
	}
	data, err := chunkfmt.DecodeChunk(d, buf.Bytes(), -1)
	if err != nil {
		return 0, err
	}
	return int64(len(data)), nil
}
