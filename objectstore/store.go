package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/castore-go/castore"
)

// ErrNotFound is returned (wrapped) for a key that does not exist. It is
// castore.ErrNotFound, so errors.Is works with either.
var ErrNotFound = castore.ErrNotFound

// ErrClosed is returned (wrapped) by the calls on a closed store.
var ErrClosed = errors.New("store is closed")

// NotFound is the error of op on a missing key: it wraps ErrNotFound and
// names the key.
func NotFound(op, key string) error {
	return fmt.Errorf("%s %q: %w", op, key, ErrNotFound)
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key  string
	Size int64
	// ModTime is when the object was last written or touched (see
	// Toucher), in the backend's clock and at its granularity (S3's is a
	// second): never later than the write it reports, so an object looks
	// at most as old as it is. Head and List set it on every backend.
	ModTime time.Time
}

// Store is a flat key/value object store under a base prefix.
//
// Keys are relative to the store's base, '/'-separated, without a leading
// slash (see CheckKey). Every method must:
//   - return an error wrapping ErrNotFound for a missing key (Get, Head,
//     Delete);
//   - make a Put all-or-nothing: a reader that fails midway or a cancelled
//     context leaves no object (and any older object under the key intact);
//   - keep an acknowledged Put durable;
//   - never put credentials into an error.
//
// A backend implements Store as the driver of a Portable, which refuses
// invalid keys and prefixes and done contexts before the backend's method
// is called; so a backend checks neither (it still stops when a context
// ends midway).
type Store interface {
	// Get opens the object for reading. Reading it may still fail later
	// (a broken connection): such errors are never io.EOF.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores everything r yields under key, replacing any object there.
	Put(ctx context.Context, key string, r io.Reader) error
	// PutIfAbsent stores r under key only if nothing is there. It reports
	// whether it created the object; an existing object is not an error.
	// Backends use a native precondition where they have one, so the
	// common "already there" case costs one request and no upload race.
	PutIfAbsent(ctx context.Context, key string, r io.Reader) (created bool, err error)
	// Head returns the object's size and modification time.
	Head(ctx context.Context, key string) (ObjectInfo, error)
	// Delete removes the object.
	Delete(ctx context.Context, key string) error
	// List yields every object whose key starts with prefix, in key order,
	// paging through the backend as needed. It stops after an error.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]
	// Close releases the store's resources.
	Close() error
}
