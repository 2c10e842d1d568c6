package ingest

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/castore-go/castore"
)

// node is one entry of the tree being built. Files and symlinks carry their
// castore.Node; directories carry their children until they are finished.
type node struct {
	isDir    bool
	node     castore.Node // files and symlinks; directories once finished
	children map[castore.PathComponent]*node
	// entry is the input entry that made it (an archive member's name),
	// or that implied a directory by naming something below it.
	entry string
}

// tree collects entries in any order (tar archives have none) and turns
// them into directories.
type tree struct {
	root *node // the directory at Path ""
}

func newTree() *tree {
	return &tree{root: &node{isDir: true, children: map[castore.PathComponent]*node{}}}
}

// dir returns the directory at p, creating missing parents; entry is the
// input entry that names p or something below it. It refuses to go
// through anything that is not a directory: a symlink or file entry
// followed by an entry "below" it is an error naming both.
func (t *tree) dir(p castore.Path, entry string) (*node, error) {
	n := t.root
	var walked castore.Path
	for _, c := range p.Components() {
		walked = walked.Join(c)
		child, ok := n.children[c]
		if !ok {
			child = &node{isDir: true, children: map[castore.PathComponent]*node{}, entry: entry}
			n.children[c] = child
		} else if !child.isDir {
			return nil, fmt.Errorf("%s: %s is a %s (entry %q), not a directory", p, walked, child.node.Type, child.entry)
		}
		n = child
	}
	return n, nil
}

// addDir records a directory entry (its parents are implied).
func (t *tree) addDir(p castore.Path, entry string) error {
	_, err := t.dir(p, entry)
	return err
}

// addLeaf records a file or symlink at p, from input entry entry, and
// returns its node (a file's digest is filled in once its upload
// finishes). A later file or symlink at the same path replaces an earlier
// one, as when a tar archive is extracted; but a directory is never
// replaced (nor, in dir, a file by a directory): a directory and a file
// of the same name in one archive is an error naming both entries, not a
// directory and what was below it silently dropped.
func (t *tree) addLeaf(p castore.Path, n castore.Node, entry string) (*node, error) {
	if p == "" {
		return nil, fmt.Errorf("a %s cannot be the root of an archive", n.Type)
	}
	parent, name := p.Split()
	d, err := t.dir(parent, entry)
	if err != nil {
		return nil, err
	}
	if old, ok := d.children[name]; ok && old.isDir {
		return nil, fmt.Errorf("%s: a %s of the name of directory %s (entry %q)", p, n.Type, p, old.entry)
	}
	leaf := &node{node: n, entry: entry}
	d.children[name] = leaf
	return leaf, nil
}

// lookup returns the entry at p, if any.
func (t *tree) lookup(p castore.Path) *node {
	n := t.root
	for _, c := range p.Components() {
		if n = n.children[c]; n == nil {
			return nil
		}
	}
	return n
}

// finish builds every directory below n, children first, hands each to
// put, and returns n's node.
func finish(n *node, put func(*castore.Directory) error) (castore.Node, error) {
	if !n.isDir {
		return n.node, nil
	}
	entries := make([]castore.Entry, 0, len(n.children))
	for name, c := range n.children {
		cn, err := finish(c, put)
		if err != nil {
			return castore.Node{}, err
		}
		entries = append(entries, castore.Entry{Name: name, Node: cn})
	}
	slices.SortFunc(entries, func(a, b castore.Entry) int { return strings.Compare(string(a.Name), string(b.Name)) })
	d, err := castore.NewDirectory(entries...)
	if err != nil {
		return castore.Node{}, err
	}
	if err := put(d); err != nil {
		return castore.Node{}, err
	}
	return d.Node(), nil
}

// putClosure puts every directory below (and including) root through one
// putter and returns the root's node. Identical directories are sent once.
// A putter that fails with castore.ErrUnavailable is made again, the whole
// closure sent again (retryPut).
func putClosure(ctx context.Context, dirs castore.DirectoryService, root *node) (castore.Node, error) {
	if !root.isDir {
		return root.node, nil
	}
	return retryPut(ctx, func() (castore.Node, error) { return putClosureOnce(ctx, dirs, root) })
}

func putClosureOnce(ctx context.Context, dirs castore.DirectoryService, root *node) (castore.Node, error) {
	p := dirs.NewPutter(ctx)
	sent := map[castore.Digest]bool{}
	n, err := finish(root, func(d *castore.Directory) error {
		dg := d.Digest()
		if sent[dg] {
			return nil
		}
		sent[dg] = true
		return p.Put(d)
	})
	if err != nil {
		return castore.Node{}, fmt.Errorf("put directories: %w", err)
	}
	got, err := p.Close()
	if err != nil {
		return castore.Node{}, fmt.Errorf("put directories: %w", err)
	}
	if got != n.Digest {
		return castore.Node{}, fmt.Errorf("put directories: store answered root %s, want %s", got, n.Digest)
	}
	return n, nil
}
