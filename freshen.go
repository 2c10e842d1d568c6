package castore

import (
	"context"
	"fmt"
)

// Freshener is implemented by services whose stored objects garbage
// collection may delete once they are old and nothing names them (see
// package gc): Freshen makes sure that what the presence of each of ds
// (blobs, or directory roots) rests on counts as recent, touching it if
// it is not, so that a caller may rely on them being stored for half the
// collector's grace period. A caller that relies on something stored
// without writing it calls Freshen: a server checking a directory's blobs
// before it accepts it, a tag set on a root that is already stored. An
// item not stored fails with an error wrapping ErrNotFound.
//
// Who has it: chunkstore.Chunked (blobs) and dirstore.Bundles (roots),
// and the wrappers around them forward it.
type Freshener interface {
	Freshen(ctx context.Context, ds []Digest) error
}

// Freshen calls s's Freshen, or refuses with an error wrapping
// ErrUnsupported for a service without one (one whose objects garbage
// collection never deletes; callers ignore the refusal).
func Freshen(ctx context.Context, s any, ds []Digest) error {
	f, ok := s.(Freshener)
	if !ok {
		return fmt.Errorf("freshen: %T cannot: %w", s, ErrUnsupported)
	}
	return f.Freshen(ctx, ds)
}
