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
	size, key, err := c.sizeOf(ctx, d, true, true)
	switch {
	case err != nil:
		return 0, fmt.Errorf("stat blob %s: %w", d, err)
	case key == "":
		return -1, nil
	}
	c.known.addSize(d, size)
	return size, nil
}

// sizeOf finds d, reading the likelier chunk key first (most blobs are
// one chunk), then the index, then the other chunk key unless other is
// false (a chunked blob costs two requests, as with one layout; a digest
// not stored, three), and returns its size and the key it was found at
// ("" if not stored): the size a chunk's frame declares (else, for a
// small object or with decode set, the one it decompresses to), or the
// sum of an index. size is -1 if d is there but that does not tell (a
// large chunk whose frame declares none, without decode; a damaged
// object, which reading says more about).
func (c *Chunked) sizeOf(ctx context.Context, d castore.Digest, decode, other bool) (size int64, found string, err error) {
	first, second := c.readLayouts()
	buf := getCompBuf()
	defer putCompBuf(buf)
	keys := []string{first.ChunkKey(d), chunkfmt.IndexKey(d), second.ChunkKey(d)}
	if !other && first == c.o.ChunkLayout {
		keys = keys[:2]
	}
	for i, key := range keys {
		buf.Reset()
		err := c.readKey(ctx, key, chunkfmt.CompressedLimit(-1), buf)
		if errors.Is(err, objectstore.ErrNotFound) {
			continue
		}
		if err != nil && !errors.Is(err, castore.ErrCorrupt) {
			return 0, "", err
		}
		if i == 2 {
			c.found(second)
		}
		if err != nil {
			return -1, key, nil // too large to be what it says
		}
		if i == 1 {
			chunks, err := chunkfmt.DecodeIndex(buf.Bytes())
			if err != nil {
				return -1, key, nil
			}
			return indexSize(chunks), key, nil
		}
		size, err := frameSize(d, buf.Bytes(), decode)
		if err != nil {
			if decode {
				return 0, "", err // a damaged chunk: not a size to check against
			}
			return -1, key, nil
		}
		return size, key, nil
	}
	return -1, "", nil
}

// indexSize is the size of a blob of chunks, or -1 beyond int64.
func indexSize(chunks []castore.ChunkMeta) int64 {
	var n uint64
	for _, cm := range chunks {
		n += cm.Size // DecodeIndex checked the total fits a uint64
	}
	if n > 1<<63-1 {
		return -1
	}
	return int64(n)
}

// smallFrame is the largest chunk object whose size is found by
// decompressing it when its frame declares none.
const smallFrame = 4 << 10

// frameSize is the size chunk object comp declares, or decompresses to
// if it is small or decode is set; -1 if neither.
func frameSize(d castore.Digest, comp []byte, decode bool) (int64, error) {
	if size, ok := chunkfmt.ContentSize(comp); ok {
		return size, nil
	}
	if !decode && len(comp) > smallFrame {
		return -1, nil
	}
	data, err := chunkfmt.DecodeChunk(d, comp, -1)
	if err != nil {
		return -1, err
	}
	return int64(len(data)), nil
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
