package dirstore

import (
	"context"
	"iter"

	bolt "go.etcd.io/bbolt"

	"github.com/castore-go/castore"
)

// eachPage is how many keys Digests reads in one transaction.
const eachPage = 1024

// Digests yields the digest of every directory stored, in key order, for
// a walk over the whole store (castore verify). It reads them a page at a
// time, holding no transaction while the caller works, so the caller may
// write to the store meanwhile; directories put meanwhile may or may not
// be yielded. A key that is not a digest is yielded with an error
// wrapping castore.ErrCorrupt, and the walk goes on.
func (e *Embedded) Digests(ctx context.Context) iter.Seq2[castore.Digest, error] {
	return func(yield func(castore.Digest, error) bool) {
		var after []byte
		for {
			if err := ctx.Err(); err != nil {
				yield(castore.Digest{}, err)
				return
			}
			var page [][]byte
			err := e.db.View(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketDirs).Cursor()
				k, _ := c.First()
				if after != nil {
					if k, _ = c.Seek(after); k != nil && string(k) == string(after) {
						k, _ = c.Next()
					}
				}
				for ; k != nil && len(page) < eachPage; k, _ = c.Next() {
					page = append(page, append([]byte(nil), k...))
				}
				return nil
			})
			if err != nil {
				yield(castore.Digest{}, err)
				return
			}
			for _, k := range page {
				d, err := castore.DigestFromBytes(k)
				if err != nil {
					err = &castore.ValidationError{Name: string(k), Err: castore.ErrCorrupt}
				}
				if !yield(d, err) {
					return
				}
			}
			if len(page) < eachPage {
				return
			}
			after = page[len(page)-1]
		}
	}
}
