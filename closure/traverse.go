package closure

import (
	"context"
	"fmt"
	"iter"

	"github.com/castore-go/castore"
)

// Read reads the closure of root with one GetRecursive, keyed by digest,
// and checks it complete: root is in it, and so is every directory that
// one in it refers to. A missing one (an unknown root included) is an
// error wrapping castore.ErrNotFound. It works on stores that address only
// roots.
func Read(ctx context.Context, dirs castore.DirectoryService, root castore.Digest) (map[castore.Digest]*castore.Directory, error) {
	out := map[castore.Digest]*castore.Directory{}
	for d, err := range dirs.GetRecursive(ctx, root) {
		if err != nil {
			return nil, err
		}
		out[d.Digest()] = d
	}
	if _, ok := out[root]; !ok {
		return nil, fmt.Errorf("directory %s: %w", root, castore.ErrNotFound)
	}
	for _, d := range out {
		for _, e := range d.Entries() {
			if e.Node.Type == castore.NodeDirectory && out[e.Node.Digest] == nil {
				return nil, fmt.Errorf("directory %s (%s): missing from the closure: %w", e.Node.Digest, e.Name, castore.ErrNotFound)
			}
		}
	}
	return out, nil
}

// Descend follows p from the directory root and returns the node it
// names (root's own node for the empty path). Subdirectories are fetched
// with Get; once Get does not know one, or from the start if the store
// addresses only roots (castore.AddressesRoots: bundles), they come from
// the root's closure instead, read once. A path through a file or
// symlink, or to a name that is not there, is an error wrapping
// castore.ErrNotFound that names the path.
func Descend(ctx context.Context, dirs castore.DirectoryService, root castore.Digest, p castore.Path) (castore.Node, error) {
	dir, err := dirs.Get(ctx, root)
	if err != nil {
		return castore.Node{}, fmt.Errorf("root directory %s: %w", root, err)
	}
	// Subdirectories come from Get, or, once Get does not know one (or
	// never can), from the closure of root, read whole.
	rootsOnly := dirs.Addressing() == castore.AddressesRoots
	var all map[castore.Digest]*castore.Directory
	get := func(d castore.Digest) (*castore.Directory, error) {
		if all == nil {
			if !rootsOnly {
				sub, err := dirs.Get(ctx, d)
				if !isNotFound(err) {
					return sub, err
				}
			}
			var err error
			if all, err = Read(ctx, dirs, root); err != nil {
				return nil, fmt.Errorf("closure of %s: %w", root, err)
			}
		}
		if sub := all[d]; sub != nil {
			return sub, nil
		}
		return nil, fmt.Errorf("not in the closure of %s: %w", root, castore.ErrNotFound)
	}
	n := dir.Node()
	var walked castore.Path
	for i, c := range p.Components() {
		if n.Type != castore.NodeDirectory {
			return castore.Node{}, fmt.Errorf("%s: %s is a %s, not a directory: %w", p, walked, n.Type, castore.ErrNotFound)
		}
		if i > 0 {
			if dir, err = get(n.Digest); err != nil {
				return castore.Node{}, fmt.Errorf("directory %s at %s: %w", n.Digest, walked, err)
			}
		}
		walked = walked.Join(c)
		var ok bool
		if n, ok = dir.Lookup(c); !ok {
			return castore.Node{}, fmt.Errorf("%s: no such file or directory: %w", walked, castore.ErrNotFound)
		}
	}
	return n, nil
}

// Visit is one directory of a closure and a path to it from the root.
type Visit struct {
	Path      castore.Path
	Directory *castore.Directory
}

// Walk yields every directory of the closure of root with its path, root
// ("") first, breadth-first; a directory reachable along several paths is
// yielded once per path. It reads the closure with Read (one
// GetRecursive), so it works on stores that address only roots. Iteration
// stops after an error.
func Walk(ctx context.Context, dirs castore.DirectoryService, root castore.Digest) iter.Seq2[Visit, error] {
	return func(yield func(Visit, error) bool) {
		all, err := Read(ctx, dirs, root)
		if err != nil {
			yield(Visit{}, fmt.Errorf("closure of %s: %w", root, err))
			return
		}
		// Read checked the closure complete: every subdirectory is in all.
		for queue := []Visit{{"", all[root]}}; len(queue) > 0; queue = queue[1:] {
			v := queue[0]
			if !yield(v, nil) {
				return
			}
			for _, e := range v.Directory.Entries() {
				if e.Node.Type == castore.NodeDirectory {
					queue = append(queue, Visit{v.Path.Join(e.Name), all[e.Node.Digest]})
				}
			}
		}
	}
}
