package objectstore

import (
	"context"
	"fmt"
	"io"
	"iter"
)

// Portable is the Store every backend's constructor returns (go-cloud's
// portable type): it checks each call's key (CheckKey) or List's prefix
// (CheckPrefix) and its context once, for every backend, and only then
// calls the backend's own method, the driver's. So no driver sees an
// invalid key or a context that is already done, and none checks them
// itself; and as the drivers are unexported, nothing reaches one without
// the checks. List also skips listed keys that are not valid keys
// (objects a bucket holds that were not written through a Store).
//
// A backend's exported type embeds a *Portable and adds what is its own
// (filestore.Store.Root, say).
type Portable struct {
	driver Store
}

var _ Store = (*Portable)(nil)

// NewPortable wraps a backend's driver.
func NewPortable(driver Store) *Portable { return &Portable{driver: driver} }

// check is the common preamble of every keyed call: a valid key and a live
// context.
func check(ctx context.Context, op, key string) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("%s %q: %w", op, key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %q: %w", op, key, err)
	}
	return nil
}

func (p *Portable) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := check(ctx, "get", key); err != nil {
		return nil, err
	}
	return p.driver.Get(ctx, key)
}

func (p *Portable) Put(ctx context.Context, key string, r io.Reader) error {
	if err := check(ctx, "put", key); err != nil {
		return err
	}
	return p.driver.Put(ctx, key, r)
}

func (p *Portable) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	if err := check(ctx, "put", key); err != nil {
		return false, err
	}
	return p.driver.PutIfAbsent(ctx, key, r)
}

func (p *Portable) Head(ctx context.Context, key string) (ObjectInfo, error) {
	if err := check(ctx, "head", key); err != nil {
		return ObjectInfo{}, err
	}
	return p.driver.Head(ctx, key)
}

func (p *Portable) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	return p.driver.Delete(ctx, key)
}

func (p *Portable) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := CheckPrefix(prefix); err != nil {
			yield(ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, err))
			return
		}
		if err := ctx.Err(); err != nil {
			yield(ObjectInfo{}, fmt.Errorf("list %q: %w", prefix, err))
			return
		}
		for oi, err := range p.driver.List(ctx, prefix) {
			if err == nil && CheckKey(oi.Key) != nil {
				continue // not written through a Store
			}
			if !yield(oi, err) {
				return
			}
		}
	}
}

func (p *Portable) Close() error { return p.driver.Close() }
