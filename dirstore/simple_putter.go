package dirstore

import (
	"context"
	"fmt"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

// NewSimplePutter is the putter of a service that stores directories one
// at a time through put (which needs the subdirectories stored already):
// at Close it puts the closure leaves first, so the root is stored last
// and only once everything below it is. A rejected, cancelled or failed
// closure never leaves its root behind (subdirectories stored before a
// failure may remain; they are content-addressed and harmless).
func NewSimplePutter(ctx context.Context, put func(context.Context, *castore.Directory) (castore.Digest, error)) castore.DirectoryPutter {
	return closure.NewPutter(ctx, func(ctx context.Context, root castore.Digest, dirs []*castore.Directory) error {
		for _, d := range dirs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if _, err := put(ctx, d); err != nil {
				return fmt.Errorf("put closure %s: directory %s: %w", root, d.Digest(), err)
			}
		}
		return nil
	})
}
