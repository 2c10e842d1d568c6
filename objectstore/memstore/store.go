package memstore

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
	"time"

	"github.com/castore-go/castore/objectstore"
)

// Store is an objectstore.Store that keeps objects in process memory, for
// tests. Puts are buffered completely before they become visible, so a
// failing reader or a cancelled context leaves nothing behind.
type Store struct {
	*objectstore.Portable
	d *driver
}

// New returns an empty in-memory store.
func New() *Store {
	d := &driver{objects: make(map[string][]byte), mtimes: make(map[string]time.Time)}
	return &Store{objectstore.NewPortable(d), d}
}

// driver is the store's side of its Portable.
type driver struct {
	mu      sync.RWMutex
	objects map[string][]byte // values are never modified once stored
	mtimes  map[string]time.Time
	closed  bool
}

var _ objectstore.Store = (*driver)(nil)

// Get returns a reader over the stored bytes.
func (m *driver) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	data, err := m.lookup("get", key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Head returns the object's size and modification time.
func (m *driver) Head(ctx context.Context, key string) (objectstore.ObjectInfo, error) {
	data, err := m.lookup("head", key)
	if err != nil {
		return objectstore.ObjectInfo{}, err
	}
	m.mu.RLock()
	t := m.mtimes[key]
	m.mu.RUnlock()
	return objectstore.ObjectInfo{Key: key, Size: int64(len(data)), ModTime: t}, nil
}

func (m *driver) lookup(op, key string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, fmt.Errorf("%s %q: %w", op, key, objectstore.ErrClosed)
	}
	data, ok := m.objects[key]
	if !ok {
		return nil, objectstore.NotFound(op, key)
	}
	return data, nil
}

// Put reads r to the end and then stores its bytes under key.
func (m *driver) Put(ctx context.Context, key string, r io.Reader) error {
	_, err := m.put(ctx, "put", key, r, true)
	return err
}

// PutIfAbsent stores r under key unless an object is there. It does not
// read r if the key already exists.
func (m *driver) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	if _, err := m.lookup("put", key); err == nil {
		return false, nil
	} else if !errors.Is(err, objectstore.ErrNotFound) {
		return false, err
	}
	return m.put(ctx, "put", key, r, false)
}

func (m *driver) put(ctx context.Context, op, key string, r io.Reader, replace bool) (bool, error) {
	var buf bytes.Buffer
	if lr, ok := r.(interface{ Len() int }); ok {
		buf.Grow(lr.Len() + bytes.MinRead) // one allocation for known sizes
	}
	_, err := buf.ReadFrom(objectstore.ContextReader(ctx, r))
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
		return false, fmt.Errorf("%s %q: %w", op, key, objectstore.ErrClosed)
	}
	if _, ok := m.objects[key]; ok && !replace {
		return false, nil
	}
	m.objects[key] = data
	m.mtimes[key] = time.Now()
	return true, nil
}

// Delete removes the object.
func (m *driver) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("delete %q: %w", key, objectstore.ErrClosed)
	}
	if _, ok := m.objects[key]; !ok {
		return objectstore.NotFound("delete", key)
	}
	delete(m.objects, key)
	delete(m.mtimes, key)
	return nil
}

// List yields the objects under prefix in key order, as they were when
// List started.
func (m *driver) List(ctx context.Context, prefix string) iter.Seq2[objectstore.ObjectInfo, error] {
	return func(yield func(objectstore.ObjectInfo, error) bool) {
		m.mu.RLock()
		if m.closed {
			m.mu.RUnlock()
			yield(objectstore.ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, objectstore.ErrClosed))
			return
		}
		var infos []objectstore.ObjectInfo
		for k, v := range m.objects {
			if strings.HasPrefix(k, prefix) {
				infos = append(infos, objectstore.ObjectInfo{Key: k, Size: int64(len(v)), ModTime: m.mtimes[k]})
			}
		}
		m.mu.RUnlock()
		slices.SortFunc(infos, func(a, b objectstore.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				yield(objectstore.ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, err))
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// Close drops every object; later calls fail.
func (m *driver) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.objects = nil
	return nil
}
