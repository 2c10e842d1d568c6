package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/castore-go/castore/objectstore"
)

var _ objectstore.Toucher = (*driver)(nil)

// Touch sets the object's modification time to now.
func (m *driver) Touch(ctx context.Context, key string) error {
	return m.setModTime("touch", key, time.Now())
}

func (m *driver) setModTime(op, key string, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("%s %q: %w", op, key, objectstore.ErrClosed)
	}
	if _, ok := m.objects[key]; !ok {
		return objectstore.NotFound(op, key)
	}
	m.mtimes[key] = t
	return nil
}

// SetModTime sets key's modification time to t: a test's way to make an
// object old.
func (s *Store) SetModTime(key string, t time.Time) error {
	if err := objectstore.CheckKey(key); err != nil {
		return err
	}
	return s.d.setModTime("set mtime", key, t)
}
