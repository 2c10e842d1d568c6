package refstore

import (
	"context"
	"fmt"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

// RequireComplete returns refs as a RefService whose Set refuses a tag
// whose root's closure dirs and blobs do not hold completely
// (closure.CheckRoot): every directory, and every blob with the size its
// node gives. The refusal wraps castore.ErrIncomplete and names what is
// missing, and nothing is stored. The check runs before the Set, so a
// closure deleted between the two is garbage collection's to guard
// against (its grace period). Get, Delete and List pass through.
//
// A server sets every tag through it: a client cannot name a root the
// store does not hold whole.
func RequireComplete(refs castore.RefService, dirs castore.DirectoryService, blobs castore.BlobService) castore.RefService {
	return &requireComplete{RefService: refs, dirs: dirs, blobs: blobs}
}

type requireComplete struct {
	castore.RefService
	dirs  castore.DirectoryService
	blobs castore.BlobService
}

func (r *requireComplete) Set(ctx context.Context, t castore.Tag, expect castore.Expect) (castore.Tag, error) {
	if err := checkSet(ctx, t, expect); err != nil {
		return castore.Tag{}, err
	}
	if err := closure.CheckRoot(ctx, r.dirs, r.blobs, t.Root); err != nil {
		return castore.Tag{}, fmt.Errorf("set tag %q: %w", t.Name, err)
	}
	return r.RefService.Set(ctx, t, expect)
}
