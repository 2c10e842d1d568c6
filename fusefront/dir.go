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
// lookup or readdir that needs it, and kept. Its first listing has the
// prefetcher fetch its subtree; its first lookup, its own files.
type dirNode struct {
	fs.Inode
	readOnlyDir
	stored
	dir  atomic.Pointer[castore.Directory]
	list atomic.Pointer[[]fuse.DirEntry] // its readdir entries, once made
	// lookedUp: a lookup in it has told the prefetcher.
	lookedUp atomic.Bool
}

var (
	_ = (fs.NodeGetattrer)((*dirNode)(nil))
	_ = (fs.NodeLookuper)((*dirNode)(nil))
	_ = (fs.NodeReaddirer)((*dirNode)(nil))
	_ = (fs.NodeOpendirHandler)((*dirNode)(nil))
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

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	dir, errno := d.directory(ctx)
	if errno != 0 {
		return nil, errno
	}
	if d.lookedUp.CompareAndSwap(false, true) {
		d.f.pf.dirLookedUp(d.node.Digest)
	}
	n, ok := dir.Lookup(castore.PathComponent(name))
	if !ok {
		return nil, syscall.ENOENT
	}
	return d.f.lookupChild(ctx, d.EmbeddedInode(), n, out), 0
}

func (d *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	list, errno := d.entries(ctx)
	if errno != 0 {
		return nil, errno
	}
	return fs.NewListDirStream(list), 0
}

// entries lists the directory for readdir. The list is made once and
// shared by every readdir (each a new handle when the kernel opens
// directories without a request): it is never changed.
func (d *dirNode) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	if list := d.list.Load(); list != nil {
		return *list, 0
	}
	dir, errno := d.directory(ctx)
	if errno != 0 {
		return nil, errno
	}
	list := make([]fuse.DirEntry, 0, dir.Len())
	for i, e := range dir.Entries() {
		de := d.f.dirEntry(string(e.Name), e.Node)
		de.Off = uint64(i + 1)
		list = append(list, de)
	}
	if d.list.CompareAndSwap(nil, &list) {
		d.f.pf.dirListed(d.node.Digest)
	}
	return list, 0
}

// OpendirHandle lets the kernel cache the listing (FOPEN_CACHE_DIR): it
// never changes. The directory is fetched by the first readdir, as tvix
// does, so opendir of a missing directory succeeds and reading it fails.
func (d *dirNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return &dirHandle{d: d}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// dirHandle is one open directory.
type dirHandle struct {
	d       *dirNode
	entries []fuse.DirEntry // nil until the first readdir
	pos     int
}

var (
	_ = (fs.FileReaddirenter)((*dirHandle)(nil))
	_ = (fs.FileSeekdirer)((*dirHandle)(nil))
)

func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if h.entries == nil {
		list, errno := h.d.entries(ctx)
		if errno != 0 {
			return nil, errno
		}
		h.entries = list
	}
	if h.pos >= len(h.entries) {
		return nil, 0
	}
	e := h.entries[h.pos]
	h.pos++
	return &e, 0
}

// Seekdir goes to offset off: after the off'th entry.
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	h.pos = int(min(off, uint64(1)<<31))
	return 0
}

func (d *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return d.f.xattr(attr, directoryXattrs, d.node.Digest.String(), dest)
}

func (d *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return d.f.listxattr(directoryXattrs, dest)
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
	return r.f.xattr(attr, nil, "", dest)
}

func (r *namedRoot) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return r.f.listxattr(nil, dest)
}
