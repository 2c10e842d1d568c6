package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
)

// errClosed is returned by every call on a closed store.
var errClosed = errors.New("store is closed")

// Memory is a Store that keeps objects in process memory, for tests. Puts
// are buffered completely before they become visible, so a failing reader
// or a cancelled context leaves nothing behind.
type Memory struct {
	mu      sync.RWMutex
	objects map[string][]byte // values are never modified once stored
	closed  bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{objects: make(map[string][]byte)}
}

// Get returns a reader over the stored bytes.
func (m *Memory) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	data, err := m.lookup(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Head returns the object's size.
func (m *Memory) Head(ctx context.Context, key string) (ObjectInfo, error) {
	data, err := m.lookup(ctx, "head", key)
	if err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{Key: key, Size: int64(len(data))}, nil
}

func (m *Memory) lookup(ctx context.Context, op, key string) ([]byte, error) {
	if err := check(ctx, op, key); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, fmt.Errorf("%s %q: %w", op, key, errClosed)
	}
	data, ok := m.objects[key]
	if !ok {
		return nil, notFound(op, key)
	}
	return data, nil
}

// Put reads r to the end and then stores its bytes under key.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader) error {
	_, err := m.put(ctx, "put", key, r, true)
	return err
}

// PutIfAbsent stores r under key unless an object is there. It does not
// read r if the key already exists.
func (m *Memory) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	if _, err := m.lookup(ctx, "put", key); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	return m.put(ctx, "put", key, r, false)
}

func (m *Memory) put(ctx context.Context, op, key string, r io.Reader, replace bool) (bool, error) {
	if err := check(ctx, op, key); err != nil {
		return false, err
	}
	var buf bytes.Buffer
	if lr, ok := r.(interface{ Len() int }); ok {
		buf.Grow(lr.Len() + bytes.MinRead) // one allocation for known sizes
	}
	_, err := buf.ReadFrom(ctxReader{ctx, r})
	data := buf.Bytes()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return false, fmt.Errorf("%s %q: %w", op, key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, fmt.Errorf("%s %q: %w", op, key, errClosed)
	}
	if _, ok := m.objects[key]; ok && !replace {
		return false, nil
	}
	m.objects[key] = data
	return true, nil
}

// Delete removes the object.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("delete %q: %w", key, errClosed)
	}
	if _, ok := m.objects[key]; !ok {
		return notFound("delete", key)
	}
	delete(m.objects, key)
	return nil
}

// List yields the objects under prefix in key order, as they were when
// List started.
func (m *Memory) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := checkPrefix(prefix); err != nil {
			yield(ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, err))
			return
		}
		m.mu.RLock()
		if m.closed {
			m.mu.RUnlock()
			yield(ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, errClosed))
			return
		}
		var infos []ObjectInfo
		for k, v := range m.objects {
			if strings.HasPrefix(k, prefix) {
				infos = append(infos, ObjectInfo{Key: k, Size: int64(len(v))})
			}
		}
		m.mu.RUnlock()
		slices.SortFunc(infos, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				yield(ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, err))
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// Close drops every object; later calls fail.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.objects = nil
	return nil
}
