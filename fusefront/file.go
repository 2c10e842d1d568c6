package fusefront

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/castore-go/castore"
)

// fileNode is a stored file. The first read opens its blob (one reader
// shared by all reads of that blob); stat never touches the store.
type fileNode struct {
	fs.Inode
	readOnly
	stored
	// inKernel: its contents are in the kernel's cache, or on their way
	// there (pushed, or read from the start).
	inKernel atomic.Bool
	// pushQueued, pushTries: the pusher's, under its lock.
	pushQueued bool
	pushTries  int
}

var (
	_ = (fs.NodeGetattrer)((*fileNode)(nil))
	_ = (fs.NodeOpener)((*fileNode)(nil))
	_ = (fs.NodeReader)((*fileNode)(nil))
	_ = (fs.NodeFlusher)((*fileNode)(nil))
	_ = (fs.NodeGetxattrer)((*fileNode)(nil))
	_ = (fs.NodeListxattrer)((*fileNode)(nil))
)

// Open answers ENOSYS to a read-only open, which tells the kernel to stop
// sending opens and releases for every file of the mount (FUSE's no-open
// mode, with FOPEN_KEEP_CACHE): a file is then read through its node, and
// opening one costs no request. Opening for writing is EROFS (the kernel
// refuses it first anyway: the mount is read-only).
func (n *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	return nil, 0, syscall.ENOSYS
}

// Flush answers ENOSYS, which tells the kernel to stop sending flushes on
// close: there is nothing to flush.
func (n *fileNode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return n.f.xattr(attr, blobXattrs, n.node.Digest.String(), dest)
}

func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.f.listxattr(blobXattrs, dest)
}

// readBufs recycles the buffers reads fill: a read owns its buffer until
// the reply is sent. The buffer of an interrupted read is not recycled:
// the ReadAt it started may still be filling it.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// Read reads len(dest) bytes at off (fewer only at the end of the file),
// with a ranged read on the blob's shared reader. Opening the blob (if no
// read has it open) and reading it are one store call: a small file costs
// its read one handoff to another goroutine, not one for each.
func (n *fileNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(n.node.Size) || len(dest) == 0 {
		return fuse.ReadResultData(nil), 0
	}
	want := int(min(int64(len(dest)), int64(n.node.Size)-off))
	if off == 0 {
		n.inKernel.Store(true)
		n.f.pf.fileRead(n.node.Digest)
	}
	bp := readBufs.Get().(*[]byte)
	if cap(*bp) < want {
		b := make([]byte, want)
		bp = &b
	}
	buf := (*bp)[:want]
	opened := true
	got, err := call(ctx, n.f, func(ctx context.Context) (int, error) {
		pr, err := n.f.readers.acquire(ctx, n.f, n.node.Digest, n.node.Size)
		if err != nil {
			opened = false
			return 0, err
		}
		defer n.f.readers.release(pr)
		n, err := pr.r.ReadAt(buf, off)
		if err == io.EOF {
			err = nil
		}
		return n, err
	})
	if err != nil {
		if err != errInterrupted {
			readBufs.Put(bp) // the ReadAt is over; otherwise it still owns buf
		}
		if !opened {
			return nil, n.f.errno(err, "fusefront: open blob", "path", n.Path(nil), "blob", n.node.Digest.String(), "size", n.node.Size)
		}
		return nil, n.f.errno(err, "fusefront: read blob", "path", n.Path(nil), "blob", n.node.Digest.String(), "offset", off, "length", want)
	}
	if got < want {
		readBufs.Put(bp)
		return nil, n.f.errno(io.ErrUnexpectedEOF, "fusefront: read blob: blob shorter than its node says", "path", n.Path(nil), "blob", n.node.Digest.String(), "offset", off, "got", got, "want", want)
	}
	return &pooledResult{buf: bp, n: got}, 0
}

// pooledResult is read data whose buffer goes back to readBufs when go-fuse
// is done with it. As a vectored result (Slices) it is written straight
// from our buffer and Done is called after the write. Through Bytes, go-fuse
// may call Done before it has written the bytes returned, so Bytes copies
// them into the buffer it is given; only if that is too small does it hand
// out its own, which is then never recycled.
type pooledResult struct {
	buf  *[]byte
	n    int
	lent bool
}

func (r *pooledResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	if cap(buf) >= r.n {
		return buf[:copy(buf[:r.n], (*r.buf)[:r.n])], fuse.OK
	}
	r.lent = true
	return (*r.buf)[:r.n], fuse.OK
}

// Slices makes the result vectored for go-fuse, which then writes it without
// a copy and calls Done only after the write.
func (r *pooledResult) Slices() ([][]byte, fuse.Status) {
	return [][]byte{(*r.buf)[:r.n]}, fuse.OK
}

func (r *pooledResult) Size() int { return r.n }

func (r *pooledResult) Done() {
	if !r.lent {
		readBufs.Put(r.buf)
	}
}

// symlinkNode is a symlink; its target is in the node.
type symlinkNode struct {
	fs.Inode
	readOnly
	stored
}

var (
	_ = (fs.NodeGetattrer)((*symlinkNode)(nil))
	_ = (fs.NodeReadlinker)((*symlinkNode)(nil))
	_ = (fs.NodeGetxattrer)((*symlinkNode)(nil))
	_ = (fs.NodeListxattrer)((*symlinkNode)(nil))
)

func (n *symlinkNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return []byte(n.node.Target), 0
}

func (n *symlinkNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return n.f.xattr(attr, nil, "", dest)
}

func (n *symlinkNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.f.listxattr(nil, dest)
}

// stored is what every node of a stored tree has: the fs, its node and
// its inode number, which give its attributes.
type stored struct {
	f    *FS
	node castore.Node
	ino  uint64
}

func (s *stored) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	attr(s.node, s.ino, &out.Attr)
	out.SetTimeout(cacheTimeout)
	return 0
}

// readOnly refuses the changes every node could be asked for.
type readOnly struct{}

func (readOnly) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}
func (readOnly) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EROFS
}
func (readOnly) Removexattr(ctx context.Context, attr string) syscall.Errno { return syscall.EROFS }

// readOnlyDir also refuses the changes to a directory.
type readOnlyDir struct{ readOnly }

func (readOnlyDir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}
func (readOnlyDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (readOnlyDir) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (readOnlyDir) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (readOnlyDir) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (readOnlyDir) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }
func (readOnlyDir) Rmdir(ctx context.Context, name string) syscall.Errno  { return syscall.EROFS }
func (readOnlyDir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}

var (
	_ = (fs.NodeSetattrer)((*fileNode)(nil))
	_ = (fs.NodeSetxattrer)((*symlinkNode)(nil))
	_ = (fs.NodeRemovexattrer)((*dirNode)(nil))
	_ = (fs.NodeCreater)((*dirNode)(nil))
	_ = (fs.NodeMkdirer)((*namedRoot)(nil))
	_ = (fs.NodeMknoder)((*dirNode)(nil))
	_ = (fs.NodeLinker)((*dirNode)(nil))
	_ = (fs.NodeSymlinker)((*dirNode)(nil))
	_ = (fs.NodeUnlinker)((*dirNode)(nil))
	_ = (fs.NodeRmdirer)((*dirNode)(nil))
	_ = (fs.NodeRenamer)((*namedRoot)(nil))
)
