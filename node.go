package castore

import "fmt"

// NodeType says what a Node is. The values are the field numbers of the
// oneof in tvix.castore.v1.Node and of the lists in tvix.castore.v1.Directory.
type NodeType uint8

const (
	NodeDirectory NodeType = 1
	NodeFile      NodeType = 2
	NodeSymlink   NodeType = 3
)

func (t NodeType) String() string {
	switch t {
	case NodeDirectory:
		return "directory"
	case NodeFile:
		return "file"
	case NodeSymlink:
		return "symlink"
	}
	return fmt.Sprintf("NodeType(%d)", uint8(t))
}

// Node is a file, a directory or a symlink, without a name: a Directory gives
// nodes names. Which fields mean something depends on Type.
type Node struct {
	Type NodeType
	// Digest is the blob digest of a file or the Directory digest of a
	// directory.
	Digest Digest
	// Size is the byte length of a file, or Directory.Size of a directory.
	Size uint64
	// Executable is set on executable files.
	Executable bool
	// Target is where a symlink points: any bytes but NUL, 1..4095 of them.
	Target string
}

// MaxFileSize is the largest file a store holds: readers address a
// blob's bytes with int64 offsets (io.Seeker, io.ReaderAt, tar headers).
// Every putter refuses a file node claiming more (closure.CheckChildren),
// though the wire format has room for it.
const MaxFileSize = 1<<63 - 1

// FileNode returns the Node of a file.
func FileNode(d Digest, size uint64, executable bool) Node {
	return Node{Type: NodeFile, Digest: d, Size: size, Executable: executable}
}

// DirectoryNode returns the Node of a directory whose Directory has digest d
// and Size size.
func DirectoryNode(d Digest, size uint64) Node {
	return Node{Type: NodeDirectory, Digest: d, Size: size}
}

// SymlinkNode returns the Node of a symlink. It is not validated here;
// Validate or adding it to a Directory does that.
func SymlinkNode(target string) Node {
	return Node{Type: NodeSymlink, Target: target}
}

// Validate checks the node on its own: a known type and, for symlinks, a
// valid target.
func (n Node) Validate() error {
	switch n.Type {
	case NodeDirectory, NodeFile:
		return nil
	case NodeSymlink:
		return ValidateSymlinkTarget([]byte(n.Target))
	}
	return &ValidationError{Name: n.Type.String(), Err: ErrNoNodeSet}
}

// Equal reports whether two nodes are the same, ignoring fields that do not
// belong to their type.
func (n Node) Equal(o Node) bool {
	if n.Type != o.Type {
		return false
	}
	switch n.Type {
	case NodeDirectory:
		return n.Digest == o.Digest && n.Size == o.Size
	case NodeFile:
		return n.Digest == o.Digest && n.Size == o.Size && n.Executable == o.Executable
	case NodeSymlink:
		return n.Target == o.Target
	}
	return true
}
