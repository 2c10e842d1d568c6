package dirstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/castore-go/castore"
)

// CommitFunc stores a validated closure: root and its directories, leaves
// first, each once. Until it returns nil, nothing of the closure may be
// visible through its root.
type CommitFunc func(ctx context.Context, root castore.Digest, dirs []*castore.Directory) error

// NewClosurePutter returns the putter every store here uses: it validates
// the closure as it arrives (ClosureValidator), holds it, and at Close
// hands it whole to commit, unless the closure is invalid or ctx is done.
// A putter is spent after its first error or its Close.
func NewClosurePutter(ctx context.Context, commit CommitFunc) castore.DirectoryPutter {
	return &closurePutter{ctx: ctx, commit: commit, v: NewClosureValidator()}
}

type closurePutter struct {
	ctx    context.Context
	commit CommitFunc
	v      *ClosureValidator
	err    error
}

func (p *closurePutter) Put(dir *castore.Directory) error {
	if p.err == nil {
		_, p.err = p.v.Add(dir)
	}
	return p.err
}

func (p *closurePutter) Close() (castore.Digest, error) {
	if p.err != nil {
		return castore.Digest{}, p.err
	}
	p.err = errors.New("putter already closed")
	if err := p.ctx.Err(); err != nil {
		return castore.Digest{}, err
	}
	root, dirs, err := p.v.Finish()
	if err != nil {
		return castore.Digest{}, err
	}
	if err := p.commit(p.ctx, root, dirs); err != nil {
		return castore.Digest{}, err
	}
	return root, nil
}

// NewSimplePutter is the putter of a service that stores directories one
// at a time through put (which needs the subdirectories stored already):
// at Close it puts the closure leaves first, so the root is stored last
// and only once everything below it is. A rejected, cancelled or failed
// closure never leaves its root behind (subdirectories stored before a
// failure may remain; they are content-addressed and harmless).
func NewSimplePutter(ctx context.Context, put func(context.Context, *castore.Directory) (castore.Digest, error)) castore.DirectoryPutter {
	return NewClosurePutter(ctx, func(ctx context.Context, root castore.Digest, dirs []*castore.Directory) error {
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
