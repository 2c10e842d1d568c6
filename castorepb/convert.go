package castorepb

import (
	"fmt"

	"github.com/castore-go/castore"
)

// ToDirectory validates a wire Directory and converts it. Errors wrap
// castore.ErrInvalid and one of its rule errors, and name the entry.
func ToDirectory(pd *Directory) (*castore.Directory, error) {
	dirs := make([]castore.Entry, len(pd.GetDirectories()))
	for i, n := range pd.GetDirectories() {
		d, err := digestOf(n.GetName(), n.GetDigest())
		if err != nil {
			return nil, err
		}
		dirs[i] = castore.Entry{Name: castore.PathComponent(n.GetName()), Node: castore.DirectoryNode(d, n.GetSize())}
	}
	files := make([]castore.Entry, len(pd.GetFiles()))
	for i, n := range pd.GetFiles() {
		d, err := digestOf(n.GetName(), n.GetDigest())
		if err != nil {
			return nil, err
		}
		files[i] = castore.Entry{Name: castore.PathComponent(n.GetName()), Node: castore.FileNode(d, n.GetSize(), n.GetExecutable())}
	}
	links := make([]castore.Entry, len(pd.GetSymlinks()))
	for i, n := range pd.GetSymlinks() {
		links[i] = castore.Entry{Name: castore.PathComponent(n.GetName()), Node: castore.SymlinkNode(string(n.GetTarget()))}
	}
	return castore.DirectoryFromLists(dirs, files, links)
}

func digestOf(name, digest []byte) (castore.Digest, error) {
	d, err := castore.DigestFromBytes(digest)
	if err != nil {
		if verr := castore.ValidateName(name); verr != nil {
			return d, verr
		}
		return d, &castore.ValidationError{Name: string(name), Err: fmt.Errorf("%w (got %d)", castore.ErrDigestLength, len(digest))}
	}
	return d, nil
}

// FromDirectory converts a Directory to its wire form.
func FromDirectory(d *castore.Directory) *Directory {
	pd := &Directory{}
	for _, e := range d.Entries() {
		name := []byte(e.Name)
		switch e.Node.Type {
		case castore.NodeDirectory:
			pd.Directories = append(pd.Directories, &DirectoryNode{Name: name, Digest: e.Node.Digest[:], Size: e.Node.Size})
		case castore.NodeFile:
			pd.Files = append(pd.Files, &FileNode{Name: name, Digest: e.Node.Digest[:], Size: e.Node.Size, Executable: e.Node.Executable})
		case castore.NodeSymlink:
			pd.Symlinks = append(pd.Symlinks, &SymlinkNode{Name: name, Target: []byte(e.Node.Target)})
		}
	}
	return pd
}

// ToNode validates a wire Node and converts it, returning its name
// separately (tvix uses an empty name for root nodes, so the name is not
// validated here; check it with castore.ValidateName where it must be one).
func ToNode(pn *Node) ([]byte, castore.Node, error) {
	switch n := pn.GetNode().(type) {
	case *Node_Directory:
		d, err := castore.DigestFromBytes(n.Directory.GetDigest())
		if err != nil {
			return nil, castore.Node{}, &castore.ValidationError{Name: string(n.Directory.GetName()), Err: err}
		}
		return n.Directory.GetName(), castore.DirectoryNode(d, n.Directory.GetSize()), nil
	case *Node_File:
		d, err := castore.DigestFromBytes(n.File.GetDigest())
		if err != nil {
			return nil, castore.Node{}, &castore.ValidationError{Name: string(n.File.GetName()), Err: err}
		}
		return n.File.GetName(), castore.FileNode(d, n.File.GetSize(), n.File.GetExecutable()), nil
	case *Node_Symlink:
		node := castore.SymlinkNode(string(n.Symlink.GetTarget()))
		if err := node.Validate(); err != nil {
			return nil, castore.Node{}, &castore.ValidationError{Name: string(n.Symlink.GetName()), Err: err}
		}
		return n.Symlink.GetName(), node, nil
	}
	return nil, castore.Node{}, &castore.ValidationError{Err: castore.ErrNoNodeSet}
}

// FromNode converts a named node to its wire form. The name may be empty
// (a root node).
func FromNode(name []byte, n castore.Node) *Node {
	switch n.Type {
	case castore.NodeDirectory:
		return &Node{Node: &Node_Directory{Directory: &DirectoryNode{Name: name, Digest: n.Digest[:], Size: n.Size}}}
	case castore.NodeFile:
		return &Node{Node: &Node_File{File: &FileNode{Name: name, Digest: n.Digest[:], Size: n.Size, Executable: n.Executable}}}
	case castore.NodeSymlink:
		return &Node{Node: &Node_Symlink{Symlink: &SymlinkNode{Name: name, Target: []byte(n.Target)}}}
	}
	return &Node{}
}
