package refstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/castore-go/castore"
)

var bucketTags = []byte("tags")

// Embedded is a RefService in one local bbolt file (the local default:
// DATA_DIR/refs.db): bucket "tags", key the name, value a
// castore.v1.TagRecord. Each Set and Delete is one write transaction, so
// conditional ones are atomic; bolt syncs every commit, and concurrent
// calls share commits (bolt's Batch).
type Embedded struct {
	db   *bolt.DB
	path string
}

var _ castore.RefService = (*Embedded)(nil)

// OpenEmbedded opens (creating if needed) the store at path. Another
// process holding the file is an error after a second, not a hang.
func OpenEmbedded(path string) (*Embedded, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("tag store %s is in use by another process (a castore serve on the same data dir? talk to it, or stop it): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open tag store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketTags)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open tag store %s: %w", path, err)
	}
	return &Embedded{db: db, path: path}, nil
}

// Close closes the file.
func (e *Embedded) Close() error { return e.db.Close() }

// current decodes the stored tag of name in tx, or returns nil.
func current(bk *bolt.Bucket, name string) (*castore.Tag, error) {
	b := bk.Get([]byte(name))
	if b == nil {
		return nil, nil
	}
	t, deleted, err := decodeRecord(name, b) // copies: b is valid only in the tx
	if err != nil || deleted {
		return nil, err
	}
	return &t, nil
}

func (e *Embedded) Get(ctx context.Context, name string) (castore.Tag, error) {
	if err := checkName(ctx, "get", name); err != nil {
		return castore.Tag{}, err
	}
	var t *castore.Tag
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		t, err = current(tx.Bucket(bucketTags), name)
		return err
	})
	if err != nil {
		return castore.Tag{}, err
	}
	if t == nil {
		return castore.Tag{}, notFound("get", name)
	}
	return *t, nil
}

func (e *Embedded) Set(ctx context.Context, t castore.Tag, expect castore.Expect) (castore.Tag, error) {
	if err := checkSet(ctx, t, expect); err != nil {
		return castore.Tag{}, err
	}
	t = stamp(t)
	rec := encodeRecord(t)
	// Batch may run the function again on its own after another in the
	// batch failed; it is idempotent.
	err := e.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketTags)
		if !expect.IsAny() { // an unconditional Set replaces even a corrupt record
			cur, err := current(bk, t.Name)
			if err != nil {
				return err
			}
			if !expect.Holds(cur) {
				return conflict("set", t.Name, expect, cur)
			}
		}
		return bk.Put([]byte(t.Name), rec)
	})
	if err != nil {
		return castore.Tag{}, err
	}
	return t, nil
}

func (e *Embedded) Delete(ctx context.Context, name string, expect castore.Expect) error {
	if err := checkDelete(ctx, name, expect); err != nil {
		return err
	}
	return e.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketTags)
		if expect.IsAny() { // an unconditional Delete removes even a corrupt record
			if bk.Get([]byte(name)) == nil {
				return notFound("delete", name)
			}
			return bk.Delete([]byte(name))
		}
		cur, err := current(bk, name)
		switch {
		case err != nil:
			return err
		case !expect.Holds(cur):
			return conflict("delete", name, expect, cur)
		case cur == nil:
			return nil // absent, as expected
		}
		return bk.Delete([]byte(name))
	})
}

// List reads the tags under prefix in one read transaction, a page at a
// time, so a long listing does not hold a transaction (and with it the
// file's growth) while its caller works.
func (e *Embedded) List(ctx context.Context, prefix string) iter.Seq2[castore.Tag, error] {
	return func(yield func(castore.Tag, error) bool) {
		if err := checkPrefix(ctx, prefix); err != nil {
			yield(castore.Tag{}, err)
			return
		}
		const page = 256
		after := []byte(nil) // the last key yielded
		for {
			var tags []castore.Tag
			err := e.db.View(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketTags).Cursor()
				k, v := c.Seek([]byte(prefix))
				if after != nil {
					k, v = c.Seek(after)
					if bytes.Equal(k, after) {
						k, v = c.Next()
					}
				}
				for ; k != nil && bytes.HasPrefix(k, []byte(prefix)) && len(tags) < page; k, v = c.Next() {
					t, deleted, err := decodeRecord(string(k), v)
					if err != nil {
						return err
					}
					if !deleted {
						tags = append(tags, t)
					}
					after = append(after[:0], k...)
				}
				return nil
			})
			if err != nil {
				yield(castore.Tag{}, fmt.Errorf("list tags %q: %w", prefix, err))
				return
			}
			for _, t := range tags {
				if err := ctx.Err(); err != nil {
					yield(castore.Tag{}, fmt.Errorf("list tags %q: %w", prefix, err))
					return
				}
				if !yield(t, nil) {
					return
				}
			}
			if len(tags) < page {
				return
			}
		}
	}
}
