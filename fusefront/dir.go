package fusefront

import (
	"context"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/castore-go/castore"
)

// dirNode is a stored directory. Its Directory is fetched on the first
// lookup or readdir that needs it, and kept.
type dirNode struct {
	fs.Inode
	readOnlyDir
	f    *FS
	node castore.Node
	ino  uint64
	dir  atomic.Pointer[castore.Directory]
}

var (
	_ = (fs.NodeGetattrer)((*dirNode)(nil))
	_ = (fs.NodeLookuper)((*dirNode)(nil))
	_ = (fs.NodeReaddirer)((*dirNode)(nil))
	_ = (fs.NodeGetxattrer)((*dirNode)(nil))
	_ = (fs.NodeListxattrer)((*dirNode)(nil))
)

// directory returns the Directory, fetching it if this is the first need.
// A fetch that fails is not remembered: the next access tries again.
func (d *dirNode) directory(ctx context.Context) (*castore.Directory, syscall.Errno) {
	if dir := d.dir.Load(); dir != nil {
		return dir, 0
	}
	dir, err := call(ctx, d.f, func(ctx context.Context) (*castore.Directory, error) {
		dir, err := d.f.dirs.Get(ctx, d.node.Digest)
		if err == nil {
			d.dir.Store(dir)
		}
		return dir, err
	})
	if err != nil {
		return nil, d.f.errno(err, "fusefront: get directory", "directory", d.node.Digest.String())
	}
	return dir, 0
}

func (d *dirNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	attr(d.node, d.ino, &out.Attr)
	out.SetTimeout(cacheTimeout)
	return 0
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	dir, errno := d.directory(ctx)
	if errno != 0 {
		return nil, errno
	}
	n, ok := dir.Lookup(castore.PathComponent(name))
	if !ok {
		return nil, syscall.ENOENT
	}
	return d.f.lookupChild(ctx, d.EmbeddedInode(), n, out), 0
}

func (d *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	dir, errno := d.directory(ctx)
	if errno != 0 {
		return nil, errno
	}
	list := make([]fuse.DirEntry, 0, dir.Len())
	for _, e := range dir.Entries() {
		list = append(list, d.f.dirEntry(string(e.Name), e.Node))
	}
	return fs.NewListDirStream(list), 0
}

func (d *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return d.f.xattr(attr, XattrDirectoryDigest, d.node.Digest.String(), dest)
}

func (d *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return d.f.listxattr(XattrDirectoryDigest, dest)
}

// dirEntry is the readdir entry of n called name.
func (f *FS) dirEntry(name string, n castore.Node) fuse.DirEntry {
	ino := f.inos.ino(n)
	var a fuse.Attr
	attr(n, ino, &a)
	return fuse.DirEntry{Name: name, Ino: ino, Mode: a.Mode}
}

// namedRoot is the mount root of named roots: lookups by name always work,
// listing only with Options.ListRoot.
type namedRoot struct {
	fs.Inode
	readOnlyDir
	f     *FS
	roots map[castore.PathComponent]castore.Node
	names []castore.PathComponent // sorted
}

var (
	_ = (fs.NodeGetattrer)((*namedRoot)(nil))
	_ = (fs.NodeLookuper)((*namedRoot)(nil))
	_ = (fs.NodeOpendirer)((*namedRoot)(nil))
	_ = (fs.NodeReaddirer)((*namedRoot)(nil))
	_ = (fs.NodeGetxattrer)((*namedRoot)(nil))
	_ = (fs.NodeListxattrer)((*namedRoot)(nil))
)

func (r *namedRoot) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Attr = fuse.Attr{Ino: fuse.FUSE_ROOT_ID, Mode: syscall.S_IFDIR | 0o555, Nlink: 1, Blksize: 1024}
	out.SetTimeout(cacheTimeout)
	return 0
}

func (r *namedRoot) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n, ok := r.roots[castore.PathComponent(name)]
	if !ok {
		return nil, syscall.ENOENT
	}
	return r.f.lookupChild(ctx, r.EmbeddedInode(), n, out), 0
}

// Opendir refuses to list the root unless ListRoot is set (EPERM, as tvix
// and ipfs do).
func (r *namedRoot) Opendir(ctx context.Context) syscall.Errno {
	if !r.f.o.ListRoot {
		return syscall.EPERM
	}
	return 0
}

func (r *namedRoot) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if !r.f.o.ListRoot {
		return nil, syscall.EPERM
	}
	list := make([]fuse.DirEntry, 0, len(r.names))
	for _, name := range r.names {
		list = append(list, r.f.dirEntry(string(name), r.roots[name]))
	}
	return fs.NewListDirStream(list), 0
}

func (r *namedRoot) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return r.f.xattr(attr, "", "", dest)
}

func (r *namedRoot) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return r.f.listxattr("", dest)
}
