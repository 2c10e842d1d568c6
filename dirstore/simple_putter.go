package dirstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/castore-go/castore"
)

// SimplePutter is the putter of a service that stores directories one at
// a time (its Put requires the subdirectories to be stored already). It
// validates the closure as it arrives and stores nothing until Close,
// which puts the directories leaves first, so the root is stored last and
// only once everything below it is: a rejected, cancelled or failed
// closure never leaves its root behind (subdirectories stored before a
// failure may remain; they are content-addressed and harmless).
type SimplePutter struct {
	ctx context.Context
	put func(context.Context, *castore.Directory) (castore.Digest, error)
	v   *ClosureValidator
	err error
}

// NewSimplePutter returns a putter that stores through put, typically a
// service's own Put method.
func NewSimplePutter(ctx context.Context, put func(context.Context, *castore.Directory) (castore.Digest, error)) *SimplePutter {
	return &SimplePutter{ctx: ctx, put: put, v: NewClosureValidator()}
}

var _ castore.DirectoryPutter = (*SimplePutter)(nil)

// Put checks the next directory against those before it.
func (p *SimplePutter) Put(dir *castore.Directory) error {
	if p.err == nil {
		_, p.err = p.v.Add(dir)
	}
	return p.err
}

// Close stores the closure, leaves first, and returns its root.
func (p *SimplePutter) Close() (castore.Digest, error) {
	if p.err != nil {
		return castore.Digest{}, p.err
	}
	p.err = errors.New("putter already closed")
	root, dirs, err := p.v.Finish()
	if err != nil {
		return castore.Digest{}, err
	}
	for _, d := range dirs { // leaves first: the order they were validated in
		if err := p.ctx.Err(); err != nil {
			return castore.Digest{}, err
		}
		if _, err := p.put(p.ctx, d); err != nil {
			return castore.Digest{}, fmt.Errorf("put closure %s: directory %s: %w", root, d.Digest(), err)
		}
	}
	return root, nil
}
