package refstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
)

// Prefix is where ObjectStore keeps tags: every key under it is a tag's
// (see keys.go: the tag NAME is refs/NAME/~).
const Prefix = "refs/"

// ObjectStore is a RefService on an objectstore.Store: one object per
// tag, refs/NAME/~, holding a castore.v1.TagRecord.
//
// Every Set and Delete, conditional or not, is a compare-and-swap with
// the store's objectstore.Conditional calls: read the record and its
// version, check the expectation, write (or delete) only that version,
// and on losing a race read again. An unconditional call so never
// overwrites a conditional one between its read and its write. Where the
// store cannot delete conditionally (S3: see s3store), a Delete writes a
// tombstone record instead, which reads as absent and which a later Set
// replaces; tombstones stay until a Set over them (a tag deleted so costs
// one small object).
//
// On a store without the capability (packstore, say) unconditional calls
// are plain puts and deletes, and conditional ones fail with
// castore.ErrUnsupported.
type ObjectStore struct {
	store objectstore.Store
}

var _ castore.RefService = (*ObjectStore)(nil)

// NewObjectStore returns a RefService keeping tags in store under
// Prefix. It does not close store.
func NewObjectStore(store objectstore.Store) *ObjectStore { return &ObjectStore{store: store} }

func key(name string) string { return objectKey(name) }

// read returns the tag stored for name (nil if none, or a tombstone) and
// the object's version (NoVersion if there is no object). conditional
// is false for a store without the capability, whose versions are
// NoVersion.
func (o *ObjectStore) read(ctx context.Context, name string) (cur *castore.Tag, v objectstore.Version, conditional bool, err error) {
	r, v, err := objectstore.GetVersion(ctx, o.store, key(name))
	conditional = true
	if errors.Is(err, errors.ErrUnsupported) {
		conditional = false
		r, err = o.store.Get(ctx, key(name))
	}
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, objectstore.NoVersion, conditional, nil
	}
	if err != nil {
		return nil, objectstore.NoVersion, conditional, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxRecord+1))
	if err != nil {
		return nil, objectstore.NoVersion, conditional, err
	}
	t, deleted, err := decodeRecord(name, b)
	if err != nil {
		return nil, objectstore.NoVersion, conditional, err
	}
	if deleted {
		return nil, v, conditional, nil
	}
	return &t, v, conditional, nil
}

func (o *ObjectStore) Get(ctx context.Context, name string) (castore.Tag, error) {
	if err := checkName(ctx, "get", name); err != nil {
		return castore.Tag{}, err
	}
	cur, _, _, err := o.read(ctx, name)
	if err != nil {
		return castore.Tag{}, fmt.Errorf("get tag %q: %w", name, err)
	}
	if cur == nil {
		return castore.Tag{}, notFound("get", name)
	}
	return *cur, nil
}

func (o *ObjectStore) Set(ctx context.Context, t castore.Tag, expect castore.Expect) (castore.Tag, error) {
	if err := checkSet(ctx, t, expect); err != nil {
		return castore.Tag{}, err
	}
	var stored castore.Tag
	err := o.swap(ctx, "set", t.Name, expect, func(cur *castore.Tag) ([]byte, error) {
		stored = stamp(t)
		return encodeRecord(stored), nil
	})
	if err != nil {
		return castore.Tag{}, err
	}
	return stored, nil
}

func (o *ObjectStore) Delete(ctx context.Context, name string, expect castore.Expect) error {
	if err := checkDelete(ctx, name, expect); err != nil {
		return err
	}
	return o.swap(ctx, "delete", name, expect, nil)
}

// swap runs one compare-and-swap of name until it wins or the
// expectation fails: record makes the new value from the current one;
// nil deletes.
func (o *ObjectStore) swap(ctx context.Context, op, name string, expect castore.Expect, record func(cur *castore.Tag) ([]byte, error)) error {
	fail := func(err error) error { return fmt.Errorf("%s tag %q: %w", op, name, err) }
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return fail(err)
			}
		}
		cur, v, conditional, err := o.read(ctx, name)
		if err != nil && !(expect.IsAny() && errors.Is(err, castore.ErrCorrupt)) {
			return fail(err) // an unconditional call replaces a corrupt record
		}
		if err != nil {
			cur = &castore.Tag{Name: name} // corrupt: there, in version v, unreadable
			if conditional {
				v, err = o.version(ctx, name)
				if err != nil {
					return fail(err)
				}
			}
		}
		switch {
		case record == nil && cur == nil && expect.IsAny():
			return notFound(op, name)
		case !expect.Holds(cur):
			return conflict(op, name, expect, cur)
		case record == nil && cur == nil:
			return nil // absent, as expected
		}
		if !conditional {
			if !expect.IsAny() {
				return fail(fmt.Errorf("conditional %s on a store without compare-and-swap: %w", op, castore.ErrUnsupported))
			}
			return o.plain(ctx, name, record)
		}
		if record == nil {
			err = objectstore.DeleteIfVersion(ctx, o.store, key(name), v)
			if errors.Is(err, errors.ErrUnsupported) {
				_, err = objectstore.PutIfVersion(ctx, o.store, key(name), bytes.NewReader(tombstone()), v)
			}
		} else {
			var b []byte
			if b, err = record(cur); err != nil {
				return fail(err)
			}
			_, err = objectstore.PutIfVersion(ctx, o.store, key(name), bytes.NewReader(b), v)
		}
		if errors.Is(err, objectstore.ErrPrecondition) {
			continue // another writer came between: read again, decide again
		}
		if err != nil {
			return fail(err)
		}
		return nil
	}
}

// version reads the version of a record that does not decode.
func (o *ObjectStore) version(ctx context.Context, name string) (objectstore.Version, error) {
	r, v, err := objectstore.GetVersion(ctx, o.store, key(name))
	if errors.Is(err, objectstore.ErrNotFound) {
		return objectstore.NoVersion, nil
	}
	if err != nil {
		return objectstore.NoVersion, err
	}
	r.Close()
	return v, nil
}

// plain is an unconditional Set or Delete on a store without
// compare-and-swap.
func (o *ObjectStore) plain(ctx context.Context, name string, record func(*castore.Tag) ([]byte, error)) error {
	if record == nil {
		err := o.store.Delete(ctx, key(name))
		if errors.Is(err, objectstore.ErrNotFound) {
			return notFound("delete", name)
		}
		return err
	}
	b, err := record(nil)
	if err != nil {
		return err
	}
	return o.store.Put(ctx, key(name), bytes.NewReader(b))
}

// List lists the keys under the prefix, sorts their names (key order is
// not name order), and reads each tag, skipping tombstones and tags
// deleted since the listing saw them. The names, not the tags, are held
// in memory.
func (o *ObjectStore) List(ctx context.Context, prefix string) iter.Seq2[castore.Tag, error] {
	return func(yield func(castore.Tag, error) bool) {
		if err := checkPrefix(ctx, prefix); err != nil {
			yield(castore.Tag{}, err)
			return
		}
		var names []string
		for info, err := range o.store.List(ctx, listPrefix(prefix)) {
			if err != nil {
				yield(castore.Tag{}, fmt.Errorf("list tags %q: %w", prefix, err))
				return
			}
			if name, ok := tagName(info.Key); ok && strings.HasPrefix(name, prefix) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			cur, _, _, err := o.read(ctx, name)
			if err != nil {
				yield(castore.Tag{}, fmt.Errorf("list tags %q: %w", prefix, err))
				return
			}
			if cur == nil {
				continue
			}
			if !yield(*cur, nil) {
				return
			}
		}
	}
}

// backoff waits a little before attempt (from 1) of a compare-and-swap
// that lost a race, so that many losers do not retry in lockstep.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond)))
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
