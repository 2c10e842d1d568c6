package fusefront

import (
	"context"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/castore-go/castore"
)

// TestNodesRefuseWrites calls the write operations on every node type
// directly: the mount is read-only, so the kernel refuses them before they
// reach us, but a mount without "ro" (fusermount that drops it) must be
// refused too.
func TestNodesRefuseWrites(t *testing.T) {
	f := newFS(nil, nil, Options{})
	defer f.cancel()
	ctx := context.Background()
	root, err := f.rootNode(Root{})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := f.child(castore.DirectoryNode(castore.EmptyDigest, 0))
	file, _ := f.child(castore.FileNode(castore.EmptyDigest, 0, false))
	link, _ := f.child(castore.SymlinkNode("x"))
	for _, n := range []fs.InodeEmbedder{root, dir, file, link} {
		var errs []syscall.Errno
		errs = append(errs,
			n.(fs.NodeSetattrer).Setattr(ctx, nil, &fuse.SetAttrIn{}, &fuse.AttrOut{}),
			n.(fs.NodeSetxattrer).Setxattr(ctx, "user.a", nil, 0),
			n.(fs.NodeRemovexattrer).Removexattr(ctx, "user.a"))
		if _, ok := n.(fs.NodeCreater); ok {
			_, _, _, e1 := n.(fs.NodeCreater).Create(ctx, "a", 0, 0o644, &fuse.EntryOut{})
			_, e2 := n.(fs.NodeMkdirer).Mkdir(ctx, "a", 0o755, &fuse.EntryOut{})
			_, e3 := n.(fs.NodeMknoder).Mknod(ctx, "a", 0o644, 0, &fuse.EntryOut{})
			_, e4 := n.(fs.NodeLinker).Link(ctx, file, "a", &fuse.EntryOut{})
			_, e5 := n.(fs.NodeSymlinker).Symlink(ctx, "t", "a", &fuse.EntryOut{})
			errs = append(errs, e1, e2, e3, e4, e5,
				n.(fs.NodeUnlinker).Unlink(ctx, "a"),
				n.(fs.NodeRmdirer).Rmdir(ctx, "a"),
				n.(fs.NodeRenamer).Rename(ctx, "a", n, "b", 0))
		}
		if o, ok := n.(fs.NodeOpener); ok {
			for _, flags := range []uint32{syscall.O_WRONLY, syscall.O_RDWR, syscall.O_RDONLY | syscall.O_TRUNC, syscall.O_WRONLY | syscall.O_APPEND} {
				_, _, e := o.Open(ctx, flags)
				errs = append(errs, e)
			}
		}
		for i, e := range errs {
			if e != syscall.EROFS {
				t.Errorf("%T operation %d: %v, want EROFS", n, i, e)
			}
		}
	}
}
