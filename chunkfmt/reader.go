package chunkfmt

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/castore-go/castore"
)

// FetchFunc returns the verified bytes of one chunk: exactly c.Size bytes
// whose BLAKE3 is c.Digest, or an error.
type FetchFunc func(ctx context.Context, c castore.ChunkMeta) ([]byte, error)

// ChunkReader reads a blob made of chunks, fetching each chunk only when a
// read needs it and fetching ahead of a sequential reader. Seek is free;
// ReadAt goes straight to the chunk holding the offset and is safe for
// concurrent use (Read and Seek are not).
type ChunkReader struct {
	ctx       context.Context
	cancel    context.CancelFunc
	fetch     FetchFunc
	chunks    []castore.ChunkMeta
	offsets   []int64 // offsets[i] = start of chunk i; offsets[len] = size
	readAhead int
	pos       int64

	mu    sync.Mutex
	cache map[int]*chunkFetch
	order []int // fetch order, for eviction
	wg    sync.WaitGroup
}

type chunkFetch struct {
	done chan struct{}
	data []byte
	err  error
}

var _ castore.BlobReader = (*ChunkReader)(nil)

// NewChunkReader returns a reader over chunks. readAhead bounds how many
// chunks are fetched ahead of a sequential reader (and so, with the chunks
// being read, the memory held).
func NewChunkReader(ctx context.Context, chunks []castore.ChunkMeta, fetch FetchFunc, readAhead int) *ChunkReader {
	ctx, cancel := context.WithCancel(ctx)
	r := &ChunkReader{ctx: ctx, cancel: cancel, fetch: fetch, chunks: chunks, readAhead: max(0, readAhead), cache: map[int]*chunkFetch{}}
	r.offsets = make([]int64, len(chunks)+1)
	for i, c := range chunks {
		r.offsets[i+1] = r.offsets[i] + int64(c.Size)
	}
	return r
}

// Size is the length of the blob.
func (r *ChunkReader) Size() int64 { return r.offsets[len(r.chunks)] }

// chunk returns chunk i, fetching it once however many callers want it.
// With wait false it only starts the fetch.
func (r *ChunkReader) chunk(i int, wait bool) ([]byte, error) {
	r.mu.Lock()
	f, ok := r.cache[i]
	if !ok {
		f = &chunkFetch{done: make(chan struct{})}
		r.cache[i] = f
		r.order = append(r.order, i)
		// Keep the chunks being read and those ahead of them, plus a few
		// for concurrent ReadAt callers.
		if limit := r.readAhead + 4; len(r.order) > limit {
			delete(r.cache, r.order[0])
			r.order = r.order[1:]
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			f.data, f.err = r.fetch(r.ctx, r.chunks[i])
			if f.err != nil {
				f.err = fmt.Errorf("chunk %d (%s) at offset %d: %w", i, r.chunks[i].Digest, r.offsets[i], f.err)
			}
			close(f.done)
		}()
	}
	r.mu.Unlock()
	if !wait {
		return nil, nil
	}
	select {
	case <-f.done:
	case <-r.ctx.Done():
		return nil, r.ctx.Err()
	}
	if f.err != nil {
		r.mu.Lock()
		if r.cache[i] == f {
			delete(r.cache, i) // a later read may retry
		}
		r.mu.Unlock()
	}
	return f.data, f.err
}

// chunkAt returns the index of the chunk holding offset off < Size.
func (r *ChunkReader) chunkAt(off int64) int {
	lo, hi := 0, len(r.chunks)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if r.offsets[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// ReadAt reads len(p) bytes at off, or up to the end with io.EOF.
func (r *ChunkReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at %d: negative offset", off)
	}
	n := 0
	for n < len(p) {
		if off >= r.Size() {
			return n, io.EOF
		}
		i := r.chunkAt(off)
		data, err := r.chunk(i, true)
		if err != nil {
			return n, err
		}
		for k := 1; k <= r.readAhead && i+k < len(r.chunks); k++ {
			r.chunk(i+k, false)
		}
		c := copy(p[n:], data[off-r.offsets[i]:])
		n += c
		off += int64(c)
	}
	return n, nil
}

// Read reads from the current position, within one chunk per call.
func (r *ChunkReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.pos >= r.Size() {
		return 0, io.EOF
	}
	i := r.chunkAt(r.pos)
	end := min(r.offsets[i+1]-r.pos, int64(len(p)))
	n, err := r.ReadAt(p[:end], r.pos)
	r.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek sets the position; nothing is fetched until the next read.
func (r *ChunkReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.Size()
	default:
		return r.pos, fmt.Errorf("seek: invalid whence %d", whence)
	}
	if offset < 0 {
		return r.pos, fmt.Errorf("seek to %d: negative position", offset)
	}
	r.pos = offset
	return offset, nil
}

// Close stops the fetches in flight and waits for them to end, so that
// the store under the reader may be closed next.
func (r *ChunkReader) Close() error {
	r.cancel()
	r.wg.Wait()
	return nil
}
