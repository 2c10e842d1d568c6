package dirstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

var bucketDirs = []byte("directories")

// Embedded is a DirectoryService in one local bbolt file, the local
// default. Every directory is addressable. A putter's closure is committed
// in one transaction, so a crash leaves either all of it or nothing of its
// root; bbolt syncs every commit, and concurrent puts share commits
// (group commit through bolt's Batch).
type Embedded struct {
	db *bolt.DB
}

// OpenEmbedded opens (creating if needed) the store at path. Another
// process holding the file is an error after a second, not a hang.
func OpenEmbedded(path string) (*Embedded, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		// The file's lock is held.
		return nil, fmt.Errorf("directory store %s is in use by another process (a castore serve or mount on the same data dir? talk to it, or stop it): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open directory store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketDirs)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open directory store %s: %w", path, err)
	}
	return &Embedded{db: db}, nil
}

var _ castore.DirectoryService = (*Embedded)(nil)

// Close closes the file.
func (e *Embedded) Close() error { return e.db.Close() }

// decode checks stored bytes against their key before decoding them.
func decode(d castore.Digest, b []byte) (*castore.Directory, error) {
	if castore.Sum(b) != d {
		return nil, fmt.Errorf("directory %s: stored bytes do not match the digest: %w", d, castore.ErrCorrupt)
	}
	dir, err := castore.UnmarshalDirectory(b)
	if err != nil {
		return nil, fmt.Errorf("directory %s: %w: %w", d, castore.ErrCorrupt, err)
	}
	return dir, nil
}

// Get reads and verifies one directory.
func (e *Embedded) Get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var dir *castore.Directory
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDirs).Get(d[:])
		if b == nil {
			return fmt.Errorf("directory %s: %w", d, castore.ErrNotFound)
		}
		var err error
		dir, err = decode(d, b) // decodes into fresh memory: b is only valid in the tx
		return err
	})
	return dir, err
}

// Put stores one directory whose subdirectories are stored already.
func (e *Embedded) Put(ctx context.Context, dir *castore.Directory) (castore.Digest, error) {
	if err := ctx.Err(); err != nil {
		return castore.Digest{}, err
	}
	d := dir.Digest()
	err := e.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketDirs)
		err := closure.CheckChildren(dir, "is not stored", func(c castore.Digest) (uint64, bool, error) {
			b := bk.Get(c[:])
			if b == nil {
				return 0, false, nil
			}
			child, err := decode(c, b)
			if err != nil {
				return 0, false, err
			}
			return child.Size(), true, nil
		})
		if err != nil {
			return err
		}
		return bk.Put(d[:], dir.Marshal())
	})
	if err != nil {
		return castore.Digest{}, err
	}
	return d, nil
}

// Addressing is castore.AddressesAll: every directory has its own key.
func (e *Embedded) Addressing() castore.Addressing { return castore.AddressesAll }

// GetRecursive yields the closure of root, breadth-first.
func (e *Embedded) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	return closure.BreadthFirst(ctx, root, e.Get)
}

// NewPutter validates the closure as it arrives and commits it in one
// transaction at Close.
func (e *Embedded) NewPutter(ctx context.Context) castore.DirectoryPutter {
	return closure.NewPutter(ctx, e.commit)
}

func (e *Embedded) commit(ctx context.Context, root castore.Digest, dirs []*castore.Directory) error {
	// Batch commits concurrent putters together, one sync for all of
	// them; a function that fails is run again on its own, so one bad or
	// cancelled closure never takes others down. The function is
	// idempotent, as Batch requires.
	err := e.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketDirs)
		for _, d := range dirs {
			dg := d.Digest()
			if bk.Get(dg[:]) != nil {
				continue
			}
			if err := bk.Put(dg[:], d.Marshal()); err != nil {
				return err
			}
		}
		return ctx.Err() // a cancelled putter commits nothing
	})
	if err != nil {
		return fmt.Errorf("put closure %s: %w", root, err)
	}
	return nil
}
