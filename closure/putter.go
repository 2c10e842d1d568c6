package closure

import (
	"context"
	"errors"

	"github.com/castore-go/castore"
)

// CommitFunc stores a validated closure: root and its directories, leaves
// first, each once. Until it returns nil, nothing of the closure may be
// visible through its root.
type CommitFunc func(ctx context.Context, root castore.Digest, dirs []*castore.Directory) error

// NewPutter returns the putter every store builds on: it validates the
// closure as it arrives (LeavesFirstValidator), holds it, and at Close
// hands it whole to commit, unless the closure is invalid or ctx is done.
// each, if given, sees every directory as it arrives, once validated and
// the first time it arrives; its error fails that Put (a store that
// refuses some directories says so at once, not at Close). A putter is
// spent after its first error or its Close.
func NewPutter(ctx context.Context, commit CommitFunc, each ...func(*castore.Directory) error) castore.DirectoryPutter {
	p := &putter{ctx: ctx, commit: commit, v: NewLeavesFirstValidator()}
	if len(each) > 0 {
		p.each = each[0]
	}
	return p
}

type putter struct {
	ctx    context.Context
	commit CommitFunc
	each   func(*castore.Directory) error
	v      *LeavesFirstValidator
	err    error
}

func (p *putter) Put(dir *castore.Directory) error {
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

func (p *putter) Close() (castore.Digest, error) {
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
