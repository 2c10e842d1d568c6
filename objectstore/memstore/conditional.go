package memstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/castore-go/castore/objectstore"
)

// The conditional calls (objectstore.Conditional) hold the store's lock
// for the compare and the swap. An object's version is the SHA-256 of its
// bytes: equal versions are equal contents, so a swap that succeeds over
// an object rewritten with the same bytes meanwhile is still right.

var _ objectstore.Conditional = (*driver)(nil)

func version(data []byte) objectstore.Version {
	h := sha256.Sum256(data)
	return objectstore.Version(hex.EncodeToString(h[:]))
}

func (m *driver) GetVersion(ctx context.Context, key string) (io.ReadCloser, objectstore.Version, error) {
	data, err := m.lookup("get", key)
	if err != nil {
		return nil, objectstore.NoVersion, err
	}
	return io.NopCloser(bytes.NewReader(data)), version(data), nil
}

func (m *driver) PutIfVersion(ctx context.Context, key string, r io.Reader, v objectstore.Version) (objectstore.Version, error) {
	data, err := io.ReadAll(objectstore.ContextReader(ctx, r))
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return objectstore.NoVersion, fmt.Errorf("put %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.compare("put", key, v); err != nil {
		return objectstore.NoVersion, err
	}
	m.objects[key] = data
	return version(data), nil
}

func (m *driver) DeleteIfVersion(ctx context.Context, key string, v objectstore.Version) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.compare("delete", key, v); err != nil {
		return err
	}
	if v == objectstore.NoVersion {
		return objectstore.PreconditionFailed("delete", key) // nothing to delete is not a match
	}
	delete(m.objects, key)
	return nil
}

// compare checks that key's object is in version v; m.mu is held.
func (m *driver) compare(op, key string, v objectstore.Version) error {
	if m.closed {
		return fmt.Errorf("%s %q: %w", op, key, objectstore.ErrClosed)
	}
	data, ok := m.objects[key]
	switch {
	case !ok && v == objectstore.NoVersion, ok && v != objectstore.NoVersion && version(data) == v:
		return nil
	}
	return objectstore.PreconditionFailed(op, key)
}
