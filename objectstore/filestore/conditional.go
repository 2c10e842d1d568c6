package filestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/castore-go/castore/objectstore"
)

// The conditional calls (objectstore.Conditional) compare and swap under
// an exclusive lock of the store's directory (flock(2) on a new
// descriptor of it, so it excludes other goroutines and other processes
// alike; a process-wide mutex where there is no flock), and swap with the
// same temporary file and rename as Put. An object's version is the
// SHA-256 of its bytes, which the file system keeps no cheaper stand-in
// for that could not repeat (an inode number and a time can, after a
// delete). Plain Puts and Deletes do not take the lock: a key updated
// conditionally must be updated only so.

var _ objectstore.Conditional = (*driver)(nil)

func version(data []byte) objectstore.Version {
	h := sha256.Sum256(data)
	return objectstore.Version(hex.EncodeToString(h[:]))
}

// maxConditional bounds an object read or written by the conditional
// calls, which hold it in memory.
const maxConditional = 64 << 20

// read returns the object's bytes and version, or NoVersion if there is
// none.
func (f *driver) read(ctx context.Context, op, key string) ([]byte, objectstore.Version, error) {
	r, err := f.Get(ctx, key)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, objectstore.NoVersion, nil
	}
	if err != nil {
		return nil, objectstore.NoVersion, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxConditional+1))
	if err != nil {
		return nil, objectstore.NoVersion, fmt.Errorf("%s %q: %w", op, key, err)
	}
	if len(data) > maxConditional {
		return nil, objectstore.NoVersion, fmt.Errorf("%s %q: larger than the %d bytes a conditional call reads", op, key, maxConditional)
	}
	return data, version(data), nil
}

func (f *driver) GetVersion(ctx context.Context, key string) (io.ReadCloser, objectstore.Version, error) {
	data, v, err := f.read(ctx, "get", key)
	if err != nil {
		return nil, objectstore.NoVersion, err
	}
	if v == objectstore.NoVersion {
		return nil, objectstore.NoVersion, objectstore.NotFound("get", key)
	}
	return io.NopCloser(bytes.NewReader(data)), v, nil
}

func (f *driver) PutIfVersion(ctx context.Context, key string, r io.Reader, v objectstore.Version) (objectstore.Version, error) {
	data, err := io.ReadAll(objectstore.ContextReader(ctx, io.LimitReader(r, maxConditional+1)))
	if err != nil {
		return objectstore.NoVersion, fmt.Errorf("put %q: %w", key, err)
	}
	if len(data) > maxConditional {
		return objectstore.NoVersion, fmt.Errorf("put %q: larger than the %d bytes a conditional put takes", key, maxConditional)
	}
	unlock, err := f.lock("put", key)
	if err != nil {
		return objectstore.NoVersion, err
	}
	defer unlock()
	if _, cur, err := f.read(ctx, "put", key); err != nil {
		return objectstore.NoVersion, err
	} else if cur != v {
		return objectstore.NoVersion, objectstore.PreconditionFailed("put", key)
	}
	if _, err := f.put(ctx, key, bytes.NewReader(data), true); err != nil {
		return objectstore.NoVersion, err
	}
	return version(data), nil
}

func (f *driver) DeleteIfVersion(ctx context.Context, key string, v objectstore.Version) error {
	unlock, err := f.lock("delete", key)
	if err != nil {
		return err
	}
	defer unlock()
	if _, cur, err := f.read(ctx, "delete", key); err != nil {
		return err
	} else if cur == objectstore.NoVersion || cur != v {
		return objectstore.PreconditionFailed("delete", key)
	}
	return f.Delete(ctx, key)
}

// lock takes the store's lock for a conditional call.
func (f *driver) lock(op, key string) (unlock func(), err error) {
	if f.closed.Load() {
		return nil, fmt.Errorf("%s %q: %w", op, key, objectstore.ErrClosed)
	}
	dir, err := os.Open(f.root)
	if err != nil {
		return nil, fmt.Errorf("%s %q: locking the store: %w", op, key, err)
	}
	release, err := lockDir(dir)
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("%s %q: locking the store: %w", op, key, err)
	}
	return func() { release(); dir.Close() }, nil
}
