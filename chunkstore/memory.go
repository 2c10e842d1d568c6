package chunkstore

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/castore-go/castore"
)

// Memory is a BlobService in memory. It does not chunk: Chunks of a stored
// blob is empty. For tests and caches: with a bound (NewMemoryCache) it
// drops the least recently used blobs beyond it.
type Memory struct {
	mu sync.Mutex
	// blobs is bounded by bytes, not by count: its count bound is never
	// reached, and put drops the least recently used beyond max.
	blobs *simplelru.LRU[castore.Digest, []byte]
	size  int64 // bytes of all blobs
	max   int64 // 0: no bound
}

// NewMemory returns an empty memory BlobService that keeps everything.
func NewMemory() *Memory {
	m := &Memory{}
	m.blobs, _ = simplelru.NewLRU(math.MaxInt, func(_ castore.Digest, data []byte) { m.size -= int64(len(data)) })
	return m
}

// NewMemoryCache returns an empty memory BlobService that holds at most
// maxBytes of blobs: storing one beyond that drops the least recently
// stored or read ones, and a blob larger than maxBytes is not kept at all.
// A near cache, never a store of record.
func NewMemoryCache(maxBytes int64) *Memory {
	m := NewMemory()
	m.max = max(maxBytes, 1)
	return m
}

var _ castore.BlobService = (*Memory)(nil)

func (m *Memory) get(d castore.Digest) ([]byte, bool) {
	if d == castore.EmptyDigest {
		return nil, true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blobs.Get(d)
}

// put stores a copy of data as blob d, dropping the least recently used
// blobs beyond the bound. Data already held, or too large to hold, is not
// copied.
func (m *Memory) put(d castore.Digest, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs.Get(d); ok || (m.max > 0 && int64(len(data)) > m.max) {
		return
	}
	m.blobs.Add(d, bytes.Clone(data))
	m.size += int64(len(data))
	for m.max > 0 && m.size > m.max {
		m.blobs.RemoveOldest()
	}
}

// Size returns the bytes of the blobs held.
func (m *Memory) Size() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.size
}

// Has reports whether the blob is stored.
func (m *Memory) Has(ctx context.Context, d castore.Digest) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	_, ok := m.get(d)
	return ok, nil
}

// Open returns a reader over the stored bytes.
func (m *Memory) Open(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, ok := m.get(d)
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, castore.ErrNotFound)
	}
	return memReader{bytes.NewReader(b)}, nil
}

// Chunks is empty for every stored blob: memory blobs are not split.
func (m *Memory) Chunks(ctx context.Context, d castore.Digest) ([]castore.ChunkMeta, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, ok := m.get(d); !ok {
		return nil, fmt.Errorf("blob %s: %w", d, castore.ErrNotFound)
	}
	return nil, nil
}

// Create buffers the blob and stores it on Close, unless ctx is done.
func (m *Memory) Create(ctx context.Context) castore.BlobWriter {
	return &memWriter{ctx: ctx, m: m}
}

type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

type memWriter struct {
	ctx    context.Context
	m      *Memory
	buf    bytes.Buffer
	closed bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("write to a closed blob writer")
	}
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.buf.Write(p)
}

func (w *memWriter) Close() (castore.Digest, error) {
	if w.closed {
		return castore.Digest{}, fmt.Errorf("blob writer closed twice")
	}
	w.closed = true
	if err := w.ctx.Err(); err != nil {
		return castore.Digest{}, err
	}
	b := w.buf.Bytes()
	d := castore.Sum(b)
	if d != castore.EmptyDigest {
		w.m.put(d, b)
	}
	w.buf = bytes.Buffer{}
	return d, nil
}
