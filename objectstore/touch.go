package objectstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/castore-go/castore"
)

// Toucher is implemented by stores that can refresh an object's
// modification time without rewriting it from the client: garbage
// collection deletes only objects older than its grace period, and a
// writer that relies on an old object being there touches it first (see
// package gc). Touch of a missing key fails with ErrNotFound, so a writer
// that lost the race with a deletion learns it.
//
// Each backend does what is native to it: S3 copies the object onto
// itself with its metadata replaced (server-side, no bytes through the
// client; S3 copies up to 5 GiB in one request, far above a chunk), GCS
// updates its metadata, the file store sets its mtime, memory a field,
// and the pack store writes the object again at the head of the current
// pack (its only time is a pack's).
type Toucher interface {
	Touch(ctx context.Context, key string) error
}

// Touch refreshes key's modification time, or refuses with an error
// wrapping castore.ErrUnsupported for a store that cannot.
func Touch(ctx context.Context, s Store, key string) error {
	t, ok := s.(Toucher)
	if !ok {
		return fmt.Errorf("touch %q: %T cannot: %w", key, s, castore.ErrUnsupported)
	}
	return t.Touch(ctx, key)
}

// Copier is implemented by stores that copy an object to another key
// without its bytes passing through the client. The copy is a new object:
// its modification time is the copy's.
type Copier interface {
	Copy(ctx context.Context, src, dst string) error
}

// Copy copies src to dst (replacing anything there): server-side where s
// is a Copier, else by reading src and putting it. A missing src fails
// with ErrNotFound.
func Copy(ctx context.Context, s Store, src, dst string) error {
	if c, ok := s.(Copier); ok {
		if err := c.Copy(ctx, src, dst); err == nil || !isUnsupported(err) {
			return err
		}
	}
	r, err := s.Get(ctx, src)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer r.Close()
	if err := s.Put(ctx, dst, r); err != nil {
		return fmt.Errorf("copy %q: %w", src, err)
	}
	return nil
}

// Compacter is implemented by stores whose deletes leave bytes behind
// until a compaction (packstore: a tombstone, and the record's bytes stay
// in its pack). Compact reclaims them and reports the bytes reclaimed.
// Garbage collection calls it after a run.
type Compacter interface {
	Compact(ctx context.Context) (reclaimed int64, err error)
}

// Compact calls s's Compact, or refuses with an error wrapping
// castore.ErrUnsupported for a store whose deletes reclaim their bytes.
func Compact(ctx context.Context, s Store) (int64, error) {
	c, ok := s.(Compacter)
	if !ok {
		return 0, fmt.Errorf("compact: %T cannot: %w", s, castore.ErrUnsupported)
	}
	return c.Compact(ctx)
}

// Compact checks the context and calls the driver's Compact, or refuses.
func (p *Portable) Compact(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("compact: %w", err)
	}
	return Compact(ctx, p.driver)
}

func (s *Instrumented) Compact(ctx context.Context) (int64, error) {
	ctx, done := s.start(ctx, "compact", "")
	n, err := Compact(ctx, s.Store)
	done(err)
	return n, err
}

// Compact is not bounded by the timeout: it is one long local call.
func (d *Deadline) Compact(ctx context.Context) (int64, error) { return Compact(ctx, d.Store) }

var (
	_ Compacter = (*Portable)(nil)
	_ Compacter = (*Instrumented)(nil)
	_ Compacter = (*Deadline)(nil)
)

// BatchDeleter is implemented by stores that delete many keys in few
// requests (S3's DeleteObjects, 1,000 keys a request). A key that is not
// there is not an error: garbage collection empties its trash so.
type BatchDeleter interface {
	DeleteBatch(ctx context.Context, keys []string) error
}

// DeleteBatch deletes keys, in batches where s can, else one by one; a
// missing key is not an error.
func DeleteBatch(ctx context.Context, s Store, keys []string) error {
	if b, ok := s.(BatchDeleter); ok {
		if err := b.DeleteBatch(ctx, keys); err == nil || !isUnsupported(err) {
			return err
		}
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// DeleteBatch checks every key and the context and calls the driver's
// DeleteBatch, or refuses if the backend has none.
func (p *Portable) DeleteBatch(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if err := check(ctx, "delete", k); err != nil {
			return err
		}
	}
	b, ok := p.driver.(BatchDeleter)
	if !ok {
		return fmt.Errorf("delete batch: %T cannot: %w", p.driver, castore.ErrUnsupported)
	}
	return b.DeleteBatch(ctx, keys)
}

// DeleteBatch counts one "delete_batch" call; a store that cannot is
// refused here, and DeleteBatch the function then deletes through s, so
// those are counted as deletes.
func (s *Instrumented) DeleteBatch(ctx context.Context, keys []string) error {
	b, ok := s.Store.(BatchDeleter)
	if !ok {
		return fmt.Errorf("delete batch: %T cannot: %w", s.Store, castore.ErrUnsupported)
	}
	ctx, done := s.start(ctx, "delete_batch", "")
	err := b.DeleteBatch(ctx, keys)
	done(err)
	return err
}

func (d *Deadline) DeleteBatch(ctx context.Context, keys []string) error {
	b, ok := d.Store.(BatchDeleter)
	if !ok {
		return fmt.Errorf("delete batch: %T cannot: %w", d.Store, castore.ErrUnsupported)
	}
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	return d.cause(ctx, b.DeleteBatch(ctx, keys))
}

var (
	_ BatchDeleter = (*Portable)(nil)
	_ BatchDeleter = (*Instrumented)(nil)
	_ BatchDeleter = (*Deadline)(nil)
)

func isUnsupported(err error) bool { return err != nil && errors.Is(err, castore.ErrUnsupported) }

// Touch checks the key and context and calls the driver's Touch, or
// refuses if the backend has none.
func (p *Portable) Touch(ctx context.Context, key string) error {
	if err := check(ctx, "touch", key); err != nil {
		return err
	}
	return Touch(ctx, p.driver, key)
}

// Copy checks both keys and the context and calls the driver's Copy, or
// refuses if the backend has none (Copy the function then reads and puts).
func (p *Portable) Copy(ctx context.Context, src, dst string) error {
	if err := check(ctx, "copy", src); err != nil {
		return err
	}
	if err := check(ctx, "copy", dst); err != nil {
		return err
	}
	c, ok := p.driver.(Copier)
	if !ok {
		return fmt.Errorf("copy %q: %T cannot: %w", src, p.driver, castore.ErrUnsupported)
	}
	return c.Copy(ctx, src, dst)
}

var (
	_ Toucher = (*Portable)(nil)
	_ Copier  = (*Portable)(nil)
	_ Toucher = (*Instrumented)(nil)
	_ Copier  = (*Instrumented)(nil)
	_ Toucher = (*Deadline)(nil)
	_ Copier  = (*Deadline)(nil)
)

func (s *Instrumented) Touch(ctx context.Context, key string) error {
	ctx, done := s.start(ctx, "touch", key)
	err := Touch(ctx, s.Store, key)
	done(err)
	return err
}

// Copy counts a server-side copy as "copy"; a store that cannot is
// refused here, and Copy the function then reads and puts through s, so
// those calls are counted as a get and a put.
func (s *Instrumented) Copy(ctx context.Context, src, dst string) error {
	c, ok := s.Store.(Copier)
	if !ok {
		return fmt.Errorf("copy %q: %T cannot: %w", src, s.Store, castore.ErrUnsupported)
	}
	ctx, done := s.start(ctx, "copy", src)
	err := c.Copy(ctx, src, dst)
	done(err)
	return err
}

func (d *Deadline) Touch(ctx context.Context, key string) error {
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	return d.cause(ctx, Touch(ctx, d.Store, key))
}

func (d *Deadline) Copy(ctx context.Context, src, dst string) error {
	c, ok := d.Store.(Copier)
	if !ok {
		return fmt.Errorf("copy %q: %T cannot: %w", src, d.Store, castore.ErrUnsupported)
	}
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	return d.cause(ctx, c.Copy(ctx, src, dst))
}
