package httpfront

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/castore-go/castore"
)

// maxSymlinkHops is how many symlinks one request may go through, as
// Linux's MAXSYMLINKS.
const maxSymlinkHops = 40

// resolved is where a request path leads in a tree.
type resolved struct {
	// node is what is at path: the root's node for the empty path.
	node castore.Node
	path castore.Path
	// parent is the directory holding node (nil for the root).
	parent *castore.Directory
	// followed is set when symlinks were followed: path is then not the
	// path asked for, and the client is redirected to it.
	followed bool
	// outside is set when the path reaches a symlink whose target leaves
	// the tree: link is the symlink's path, target where it points, and
	// node is the symlink.
	outside bool
	link    castore.Path
}

// errNoRoot is a tree whose root directory is not stored.
var errNoRoot = errors.New("no such tree")

// pathNotFound is a path with nothing at it; it wraps castore.ErrNotFound.
func pathNotFound(p castore.Path, why string) error {
	return fmt.Errorf("%s: %s: %w", showPath(p), why, castore.ErrNotFound)
}

func showPath(p castore.Path) string {
	if p == "" {
		return "/"
	}
	return "/" + string(p)
}

// errSymlinkLoop is a path through too many symlinks.
type errSymlinkLoop struct{ path castore.Path }

func (e errSymlinkLoop) Error() string {
	return fmt.Sprintf("%s: more than %d symlinks on the way", showPath(e.path), maxSymlinkHops)
}

// resolve walks p in the tree rooted at root, following symlinks that
// stay inside it (the last component's too). A symlink that leaves the
// tree ends the walk with outside set.
func (h *Handler) resolve(ctx context.Context, root castore.Digest, p castore.Path) (resolved, error) {
	rootDir, err := h.cache.get(ctx, root, root)
	if errors.Is(err, castore.ErrNotFound) {
		return resolved{}, fmt.Errorf("%w: %w", errNoRoot, err)
	}
	if err != nil {
		return resolved{}, err
	}
	names := p.Components()
	followed := false
	for hops := 0; ; {
		r, rest, err := h.walk(ctx, root, rootDir, names)
		if err != nil || rest == nil {
			r.followed = followed
			return r, err
		}
		// r.node is a symlink at r.path with names rest after it.
		if hops++; hops > maxSymlinkHops {
			return resolved{}, errSymlinkLoop{p}
		}
		parent, _ := r.path.Split()
		target, ok := joinTarget(parent, r.node.Target)
		if !ok {
			r.outside, r.link, r.followed = true, r.path, followed
			return r, nil
		}
		names = append(target.Components(), rest...)
		followed = true
	}
}

// walk descends names from the root. It stops at the first symlink, and
// returns it with the names after it (not nil, maybe empty); rest is nil
// when the walk got to the end without one.
func (h *Handler) walk(ctx context.Context, root castore.Digest, rootDir *castore.Directory, names []castore.PathComponent) (r resolved, rest []castore.PathComponent, err error) {
	r.node = rootDir.Node()
	dir := rootDir
	for i, name := range names {
		if r.node.Type != castore.NodeDirectory {
			return resolved{}, nil, pathNotFound(r.path.Join(name), showPath(r.path)+" is a "+r.node.Type.String())
		}
		if i > 0 {
			if dir, err = h.cache.get(ctx, root, r.node.Digest); err != nil {
				return resolved{}, nil, fmt.Errorf("directory %s at %s: %w", r.node.Digest, showPath(r.path), err)
			}
		}
		n, ok := dir.Lookup(name)
		if !ok {
			return resolved{}, nil, pathNotFound(r.path.Join(name), "no such file or directory")
		}
		r.node, r.path, r.parent = n, r.path.Join(name), dir
		if n.Type == castore.NodeSymlink {
			return r, append([]castore.PathComponent{}, names[i+1:]...), nil
		}
	}
	return r, nil, nil
}

// joinTarget resolves a symlink target against the directory holding
// the symlink, lexically, as the kernel would if every component were a
// directory. It reports false for a target that leaves the tree: an
// absolute one, or one that climbs above the root.
func joinTarget(dir castore.Path, target string) (castore.Path, bool) {
	if strings.HasPrefix(target, "/") {
		return "", false
	}
	parts := []string{}
	if dir != "" {
		parts = strings.Split(string(dir), "/")
	}
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", false
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, c) // one too long to be a name is not found

		}
	}
	return castore.Path(strings.Join(parts, "/")), true
}

// leavesTree reports whether a symlink in directory dir points outside
// the tree, without looking anything up.
func leavesTree(dir castore.Path, target string) bool {
	_, ok := joinTarget(dir, target)
	return !ok
}
