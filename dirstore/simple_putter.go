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
// each, if given, sees every directory as it arrives, once validated and
// the first time it arrives; its error fails that Put (a store that
// refuses some directories says so at once, not at Close). A putter is
// spent after its first error or its Close.
func NewClosurePutter(ctx context.Context, commit CommitFunc, each ...func(*castore.Directory) error) castore.DirectoryPutter {
	p := &closurePutter{ctx: ctx, commit: commit, v: NewClosureValidator()}
	if len(each) > 0 {
		p.each = each[0]
	}
	return p
}

type closurePutter struct {
	ctx    context.Context
	commit CommitFunc
	each   func(*castore.Directory) error
	v      *ClosureValidator
	err    error
}

func (p *closurePutter) Put(dir *castore.Directory) error {
	if p.err != nil {
		return p.err
	}
	if p.err = p.ctx.Err(); p.err != nil {
		return p.err
	}
	isNew, err := p.v.Add(dir)
	if err == nil && isNew && p.each != nil {
		err = p.each(dir)
	}
	p.err = err
	return err
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

// FailedPutter is a putter that fails every call with err: that of a
// store that cannot take directories at all.
func FailedPutter(err error) castore.DirectoryPutter { return failedPutter{err} }

type failedPutter struct{ err error }

func (f failedPutter) Put(*castore.Directory) error   { return f.err }
func (f failedPutter) Close() (castore.Digest, error) { return castore.Digest{}, f.err }

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
