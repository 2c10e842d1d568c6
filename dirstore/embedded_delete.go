package dirstore

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/castore-go/castore"
)

// Delete removes the directories ds (those not stored are skipped) in one
// transaction. Garbage collection (package gc) uses it for directories
// that name what is no longer stored; nothing else deletes directories.
func (e *Embedded) Delete(ctx context.Context, ds []castore.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDirs)
		for _, d := range ds {
			if err := b.Delete(d[:]); err != nil {
				return err
			}
		}
		return nil
	})
}
