package refstore

import (
	"context"
	"fmt"
	"time"

	"github.com/castore-go/castore"
)

// The checks every store makes before it looks at what it holds, in one
// order: the arguments (so a bad name is ErrInvalid whatever else is
// wrong), then the context.

func checkName(ctx context.Context, op, name string) error {
	if err := castore.ValidateTagName(name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s tag %q: %w", op, name, err)
	}
	return nil
}

func checkSet(ctx context.Context, t castore.Tag, expect castore.Expect) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("set: %w", err)
	}
	return checkExpect(ctx, "set", t.Name, expect)
}

func checkDelete(ctx context.Context, name string, expect castore.Expect) error {
	if err := castore.ValidateTagName(name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return checkExpect(ctx, "delete", name, expect)
}

func checkExpect(ctx context.Context, op, name string, expect castore.Expect) error {
	if root, ok := expect.Root(); ok {
		if err := root.Validate(); err != nil {
			return fmt.Errorf("%s tag %q: expected root: %w", op, name, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s tag %q: %w", op, name, err)
	}
	return nil
}

func checkPrefix(ctx context.Context, prefix string) error {
	if err := castore.ValidateTagPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list tags %q: %w", prefix, err)
	}
	return nil
}

// conflict is the error of a conditional call whose expectation the
// current value does not meet; cur is nil for a missing tag.
func conflict(op, name string, expect castore.Expect, cur *castore.Tag) error {
	have := "no tag"
	if cur != nil {
		have = "root " + describe(cur.Root)
	}
	return fmt.Errorf("%s tag %q: expected %v, found %s: %w", op, name, expect, have, castore.ErrConflict)
}

func describe(n castore.Node) string {
	if n.Type == castore.NodeSymlink {
		return fmt.Sprintf("symlink %q", n.Target)
	}
	return n.Digest.String()
}

func notFound(op, name string) error {
	return fmt.Errorf("%s tag %q: %w", op, name, castore.ErrNotFound)
}

// stamp is the service's clock for Updated: UTC, without a monotonic
// reading, so a stored and a returned tag compare equal.
func stamp(t castore.Tag) castore.Tag {
	t.Updated = time.Now().UTC()
	return t
}
