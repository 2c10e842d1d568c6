package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Version names one stored state of an object as its backend tells states
// apart: an ETag (S3), a generation (GCS), a digest of the bytes
// (filestore, memstore). It is opaque and means something only for the
// key it was read from. NoVersion stands for "no object".
//
// A version may be derived from the bytes alone (S3's ETag is their MD5
// for a single-part put): rewriting an object with the same bytes may
// leave its version as it was, and then two writers expecting it can
// both succeed. A caller that needs every write told apart writes bytes
// that differ every time (refstore adds a random nonce to each record).
type Version string

// NoVersion is the version of a key with no object: PutIfVersion with it
// creates the object only if none is there.
const NoVersion Version = ""

// ErrPrecondition is wrapped when a conditional put or delete finds the
// object in a version other than the one it names (or an object where it
// expects none, or none where it expects one): another writer got there
// first.
var ErrPrecondition = errors.New("object changed concurrently (precondition failed)")

// Conditional is the optional capability of compare-and-swap on single
// objects, the primitive atomic updates of small records (tags) are built
// on: read an object with its version, then write or delete it only if
// the version is still the one read. Among themselves the conditional
// calls on one key are atomic; a plain Put or Delete racing them is not
// held to them on every backend (filestore), so a key updated
// conditionally should be updated only so.
//
// The calls are for small objects: a backend may hold a whole body in
// memory.
//
// Call it through GetVersion, PutIfVersion and DeleteIfVersion, which
// refuse with castore.ErrUnsupported (errors.ErrUnsupported) for a store
// without it. Portable forwards it to its driver, or refuses if the
// driver has none; Instrumented and Deadline forward it.
type Conditional interface {
	// GetVersion opens the object for reading and returns its version.
	GetVersion(ctx context.Context, key string) (io.ReadCloser, Version, error)
	// PutIfVersion stores everything r yields under key if the object's
	// version is v (or, for NoVersion, if there is no object), and
	// returns the new version. Otherwise it fails with an error wrapping
	// ErrPrecondition, and stores nothing.
	PutIfVersion(ctx context.Context, key string, r io.Reader, v Version) (Version, error)
	// DeleteIfVersion removes the object if its version is v; otherwise
	// (another version, or no object) it fails wrapping ErrPrecondition.
	// A backend that can put but not delete conditionally refuses with
	// errors.ErrUnsupported; the caller then writes a tombstone with
	// PutIfVersion instead.
	DeleteIfVersion(ctx context.Context, key string, v Version) error
}

func unsupported(op, key string) error {
	return fmt.Errorf("%s %q: conditional calls: %w", op, key, errors.ErrUnsupported)
}

// GetVersion calls s's GetVersion, or refuses with ErrUnsupported.
func GetVersion(ctx context.Context, s Store, key string) (io.ReadCloser, Version, error) {
	if c, ok := s.(Conditional); ok {
		return c.GetVersion(ctx, key)
	}
	return nil, NoVersion, unsupported("get", key)
}

// PutIfVersion calls s's PutIfVersion, or refuses with ErrUnsupported.
func PutIfVersion(ctx context.Context, s Store, key string, r io.Reader, v Version) (Version, error) {
	if c, ok := s.(Conditional); ok {
		return c.PutIfVersion(ctx, key, r, v)
	}
	return NoVersion, unsupported("put", key)
}

// DeleteIfVersion calls s's DeleteIfVersion, or refuses with
// ErrUnsupported.
func DeleteIfVersion(ctx context.Context, s Store, key string, v Version) error {
	if c, ok := s.(Conditional); ok {
		return c.DeleteIfVersion(ctx, key, v)
	}
	return unsupported("delete", key)
}

// PreconditionFailed is the error of op on key whose object is not in the
// version expected.
func PreconditionFailed(op, key string) error {
	return fmt.Errorf("%s %q: %w", op, key, ErrPrecondition)
}

// Portable checks the key and the context as for every call, then
// forwards to the driver, or refuses if it has no Conditional.

var _ Conditional = (*Portable)(nil)

func (p *Portable) GetVersion(ctx context.Context, key string) (io.ReadCloser, Version, error) {
	if err := check(ctx, "get", key); err != nil {
		return nil, NoVersion, err
	}
	return GetVersion(ctx, p.driver, key)
}

func (p *Portable) PutIfVersion(ctx context.Context, key string, r io.Reader, v Version) (Version, error) {
	if err := check(ctx, "put", key); err != nil {
		return NoVersion, err
	}
	return PutIfVersion(ctx, p.driver, key, r, v)
}

func (p *Portable) DeleteIfVersion(ctx context.Context, key string, v Version) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	return DeleteIfVersion(ctx, p.driver, key, v)
}

// Instrumented counts and traces the conditional calls as get_version,
// put_if_version and delete_if_version.

var _ Conditional = (*Instrumented)(nil)

func (s *Instrumented) GetVersion(ctx context.Context, key string) (io.ReadCloser, Version, error) {
	ctx, done := s.start(ctx, "get_version", key)
	r, v, err := GetVersion(ctx, s.Store, key)
	done(err)
	if err != nil {
		return nil, NoVersion, err
	}
	return &countingReadCloser{ReadCloser: r, count: func(n int64) { s.countBytes(ctx, "get", n) }}, v, nil
}

func (s *Instrumented) PutIfVersion(ctx context.Context, key string, r io.Reader, v Version) (Version, error) {
	ctx, done := s.start(ctx, "put_if_version", key)
	size := putSize(r)
	nv, err := PutIfVersion(ctx, s.Store, key, r, v)
	if err == nil {
		if n := size(); n >= 0 {
			s.countBytes(ctx, "put", n)
		}
	}
	done(err)
	return nv, err
}

func (s *Instrumented) DeleteIfVersion(ctx context.Context, key string, v Version) error {
	ctx, done := s.start(ctx, "delete_if_version", key)
	err := DeleteIfVersion(ctx, s.Store, key, v)
	done(err)
	return err
}

// Deadline bounds the conditional calls as the others.

var _ Conditional = (*Deadline)(nil)

func (d *Deadline) GetVersion(ctx context.Context, key string) (io.ReadCloser, Version, error) {
	ctx, cancel := d.ctx(ctx)
	r, v, err := GetVersion(ctx, d.Store, key)
	if err != nil {
		cancel()
		return nil, NoVersion, d.cause(ctx, err)
	}
	return &deadlineReader{ReadCloser: r, ctx: ctx, cancel: cancel}, v, nil
}

func (d *Deadline) PutIfVersion(ctx context.Context, key string, r io.Reader, v Version) (Version, error) {
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	nv, err := PutIfVersion(ctx, d.Store, key, r, v)
	return nv, d.cause(ctx, err)
}

func (d *Deadline) DeleteIfVersion(ctx context.Context, key string, v Version) error {
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	return d.cause(ctx, DeleteIfVersion(ctx, d.Store, key, v))
}
