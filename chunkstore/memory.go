// Package chunkstore holds castore's BlobService implementations.
package chunkstore

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/castore-go/castore"
)

// Memory is a BlobService in memory. It does not chunk: Chunks of a stored
// blob is empty. For tests and small caches.
type Memory struct {
	mu    sync.RWMutex
	blobs map[castore.Digest][]byte
}

// NewMemory returns an empty memory BlobService.
func NewMemory() *Memory { return &Memory{blobs: map[castore.Digest][]byte{}} }

var _ castore.BlobService = (*Memory)(nil)

func (m *Memory) get(d castore.Digest) ([]byte, bool) {
	if d == castore.EmptyDigest {
		return nil, true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, ok := m.blobs[d]
	return b, ok
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
	w.m.mu.Lock()
	if _, ok := w.m.blobs[d]; !ok {
		w.m.blobs[d] = bytes.Clone(b)
	}
	w.m.mu.Unlock()
	w.buf = bytes.Buffer{}
	return d, nil
}
