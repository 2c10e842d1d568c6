package closure

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/castore-go/castore"
)

// LeavesFirst orders a closure so that every directory comes after all the
// directories it refers to, root last: the order a putter takes.
// Directories not reachable from root are left out.
func LeavesFirst(root castore.Digest, dirs []*castore.Directory) []*castore.Directory {
	by := make(map[castore.Digest]*castore.Directory, len(dirs))
	for _, d := range dirs {
		by[d.Digest()] = d
	}
	out := make([]*castore.Directory, 0, len(dirs))
	done := make(map[castore.Digest]bool, len(dirs))
	// Iterative post-order: a deep chain must not exhaust the stack.
	type frame struct {
		dir  *castore.Directory
		next int
	}
	if by[root] == nil {
		return nil
	}
	stack := []frame{{dir: by[root]}}
	done[root] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		es := f.dir.Entries()
		pushed := false
		for f.next < len(es) {
			e := es[f.next]
			f.next++
			if e.Node.Type == castore.NodeDirectory && !done[e.Node.Digest] && by[e.Node.Digest] != nil {
				done[e.Node.Digest] = true
				stack = append(stack, frame{dir: by[e.Node.Digest]})
				pushed = true
				break
			}
		}
		if !pushed {
			out = append(out, f.dir)
			stack = stack[:len(stack)-1]
		}
	}
	return out
}

// RootFirst orders a closure breadth-first from root, each directory once:
// the order GetRecursive yields.
func RootFirst(root castore.Digest, dirs []*castore.Directory) []*castore.Directory {
	by := make(map[castore.Digest]*castore.Directory, len(dirs))
	for _, d := range dirs {
		by[d.Digest()] = d
	}
	out := make([]*castore.Directory, 0, len(dirs))
	seen := map[castore.Digest]bool{root: true}
	for queue := []castore.Digest{root}; len(queue) > 0; queue = queue[1:] {
		d := by[queue[0]]
		out = append(out, d)
		for _, e := range d.Entries() {
			if e.Node.Type == castore.NodeDirectory && !seen[e.Node.Digest] {
				seen[e.Node.Digest] = true
				queue = append(queue, e.Node.Digest)
			}
		}
	}
	return out
}

// BreadthFirst walks the closure of root with get, one directory at a
// time: root first, breadth-first, each digest once, as GetRecursive
// must. An unknown root yields nothing; a missing subdirectory is an
// error.
func BreadthFirst(ctx context.Context, root castore.Digest, get func(context.Context, castore.Digest) (*castore.Directory, error)) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) {
		seen := map[castore.Digest]bool{root: true}
		queue := []castore.Digest{root}
		for len(queue) > 0 {
			d := queue[0]
			queue = queue[1:]
			dir, err := get(ctx, d)
			if err != nil {
				if d == root && isNotFound(err) {
					return
				}
				yield(nil, fmt.Errorf("closure of %s: %w", root, err))
				return
			}
			for _, e := range dir.Entries() {
				if e.Node.Type == castore.NodeDirectory && !seen[e.Node.Digest] {
					seen[e.Node.Digest] = true
					queue = append(queue, e.Node.Digest)
				}
			}
			if !yield(dir, nil) {
				return
			}
		}
	}
}

func isNotFound(err error) bool { return errors.Is(err, castore.ErrNotFound) }
