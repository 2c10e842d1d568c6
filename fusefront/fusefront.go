package fusefront

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/castore-go/castore"
)

// The extended attributes carrying digests, as b3:<base64>: tvix's names,
// and snix's beside them with the same values.
const (
	XattrDirectoryDigest = "user.tvix.castore.directory.digest"
	XattrBlobDigest      = "user.tvix.castore.blob.digest"

	SnixXattrDirectoryDigest = "user.snix.castore.directory.digest"
	SnixXattrBlobDigest      = "user.snix.castore.blob.digest"
)

// The names a directory's and a file's digest go by.
var (
	directoryXattrs = []string{XattrDirectoryDigest, SnixXattrDirectoryDigest}
	blobXattrs      = []string{XattrBlobDigest, SnixXattrBlobDigest}
)

// idleReaders is how many blob readers stay open with no read using them.
const idleReaders = 32

// noData is "no such attribute": ENODATA on Linux, ENOATTR elsewhere.
const noData = syscall.Errno(fuse.ENOATTR)

// cacheTimeout is how long the kernel may keep attributes and entries
// (including negative ones): the content never changes.
const cacheTimeout = 365 * 24 * time.Hour

// Root says what the mount point shows: the directory Node, or, if Node is
// the zero Node, a synthetic directory whose entries are Named.
type Root struct {
	Node  castore.Node
	Named map[castore.PathComponent]castore.Node
}

// Options tune a mount. The zero value is a private mount of an unlisted
// root without extended attributes.
type Options struct {
	// ListRoot lets readdir list named roots; without it, opendir of the
	// mount root is EPERM (as in tvix) and only lookups by name work.
	ListRoot bool
	// XAttr exposes digests as the extended attributes above.
	XAttr bool
	// AllowOther lets other users than the one mounting see the mount.
	AllowOther bool
	// Threads bounds how many requests use the stores at once, and the
	// kernel's background (readahead) requests. Default 16.
	Threads int
	// MaxRead is the largest read request the kernel sends (default and
	// maximum 1 MiB).
	MaxRead int
	// Logger receives the errors that become EIO. Default slog.Default().
	Logger *slog.Logger
	// Debug logs every FUSE request.
	Debug bool
	// Prefetch says what is fetched before it is read (default
	// PrefetchDir). It needs a blob service that is a cache
	// (castore.Prefetcher); without one it is off.
	Prefetch PrefetchMode
	// PrefetchMaxFile is the largest file prefetched (default
	// DefaultPrefetchMaxFile).
	PrefetchMaxFile int64
	// PrefetchBytes bounds what the mount prefetches in all (default
	// DefaultPrefetchBytes); keep it well under the cache's size, or
	// prefetched files evict each other before they are read.
	PrefetchBytes int64
}

// FS is the filesystem: the stores and the state shared by its nodes.
type FS struct {
	blobs castore.BlobService
	dirs  castore.DirectoryService
	o     Options
	log   *slog.Logger
	inos  inodeTable
	// ctx lives as long as the mount: fetches and blob readers run under
	// it, not under a request's context.
	ctx     context.Context
	cancel  context.CancelFunc
	sem     chan struct{}
	calls   sync.WaitGroup // store calls running, even for interrupted requests
	readers *readerPool
	pf      *prefetcher // nil when prefetch is off
	push    *pusher     // nil when prefetch is off
}

func newFS(blobs castore.BlobService, dirs castore.DirectoryService, o Options) *FS {
	if o.Threads <= 0 {
		o.Threads = 16
	}
	if o.MaxRead <= 0 || o.MaxRead > 1<<20 {
		o.MaxRead = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Prefetch == "" {
		o.Prefetch = PrefetchDir
	}
	if o.PrefetchMaxFile <= 0 {
		o.PrefetchMaxFile = DefaultPrefetchMaxFile
	}
	if o.PrefetchBytes <= 0 {
		o.PrefetchBytes = DefaultPrefetchBytes
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &FS{blobs: blobs, dirs: dirs, o: o, log: o.Logger, inos: inodeTable{next: 2, m: map[string]uint64{}},
		ctx: ctx, cancel: cancel, sem: make(chan struct{}, o.Threads), readers: newReaderPool(idleReaders)}
}

// stop ends the store calls still running (those of interrupted
// requests), waits for them, and closes the idle readers: afterwards
// nothing uses the stores.
func (f *FS) stop() {
	f.cancel()
	f.pf.close()
	f.push.close()
	f.calls.Wait()
	f.readers.closeAll()
}

// rootNode returns the node at the mount point.
func (f *FS) rootNode(r Root) (fs.InodeEmbedder, error) {
	if r.Node.Type != 0 {
		if r.Named != nil {
			return nil, errors.New("fusefront: a root is either a directory node or named roots, not both")
		}
		if r.Node.Type != castore.NodeDirectory {
			return nil, fmt.Errorf("fusefront: the root must be a directory, not a %s", r.Node.Type)
		}
		return &dirNode{stored: stored{f: f, node: r.Node, ino: fuse.FUSE_ROOT_ID}}, nil
	}
	names := make([]castore.PathComponent, 0, len(r.Named))
	for name, n := range r.Named {
		if err := castore.ValidateName([]byte(name)); err != nil {
			return nil, fmt.Errorf("fusefront: root name %q: %w", name, err)
		}
		if err := n.Validate(); err != nil {
			return nil, fmt.Errorf("fusefront: root %q: %w", name, err)
		}
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return &namedRoot{f: f, roots: r.Named, names: names}, nil
}

// errInterrupted is returned by call when the request was interrupted.
var errInterrupted = errors.New("interrupted")

// call runs fn under the mount's context and waits for it, or for the
// request to be interrupted (errInterrupted; fn carries on and its result
// is dropped). At most Threads calls run at once.
func call[T any](ctx context.Context, f *FS, fn func(ctx context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	f.calls.Add(1)
	go func() {
		defer f.calls.Done()
		select {
		case f.sem <- struct{}{}:
		case <-f.ctx.Done():
			done <- result{err: f.ctx.Err()}
			return
		}
		v, err := fn(f.ctx)
		<-f.sem
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, errInterrupted
	}
}

// errno maps a store error to the errno of the request, logging it with
// what was being done: EINTR for an interrupt, EIO for everything else.
func (f *FS) errno(err error, msg string, args ...any) syscall.Errno {
	if errors.Is(err, errInterrupted) {
		return syscall.EINTR
	}
	f.log.Error(msg, append(args, "err", err)...)
	return syscall.EIO
}

// attr fills out with the attributes of n at inode ino.
func attr(n castore.Node, ino uint64, out *fuse.Attr) {
	*out = fuse.Attr{Ino: ino, Nlink: 1, Blksize: 128 << 10}
	switch n.Type {
	case castore.NodeDirectory:
		out.Mode = syscall.S_IFDIR | 0o555
		out.Size = n.Size
	case castore.NodeFile:
		out.Mode = syscall.S_IFREG | 0o444
		if n.Executable {
			out.Mode = syscall.S_IFREG | 0o555
		}
		out.Size = n.Size
		out.Blocks = (n.Size + 511) / 512
	case castore.NodeSymlink:
		out.Mode = syscall.S_IFLNK | 0o444
		out.Size = uint64(len(n.Target))
	}
}

// child returns the node and stable attributes for n, found in a directory.
func (f *FS) child(n castore.Node) (fs.InodeEmbedder, fs.StableAttr) {
	ino := f.inos.ino(n)
	var a fuse.Attr
	attr(n, ino, &a)
	st := fs.StableAttr{Mode: a.Mode & syscall.S_IFMT, Ino: ino}
	switch n.Type {
	case castore.NodeDirectory:
		return &dirNode{stored: stored{f: f, node: n, ino: ino}}, st
	case castore.NodeFile:
		return &fileNode{stored: stored{f: f, node: n, ino: ino}}, st
	default:
		return &symlinkNode{stored: stored{f: f, node: n, ino: ino}}, st
	}
}

// lookupChild answers a lookup of name resolving to n in parent.
func (f *FS) lookupChild(ctx context.Context, parent *fs.Inode, n castore.Node, out *fuse.EntryOut) *fs.Inode {
	node, st := f.child(n)
	attr(n, st.Ino, &out.Attr)
	out.SetEntryTimeout(cacheTimeout)
	out.SetAttrTimeout(cacheTimeout)
	in := parent.NewInode(ctx, node, st)
	if fn, ok := in.Operations().(*fileNode); ok {
		f.push.named(fn)
	}
	return in
}

// xattr answers getxattr for a node whose attributes, names, all hold value.
func (f *FS) xattr(attr string, names []string, value string, dest []byte) (uint32, syscall.Errno) {
	if !f.o.XAttr {
		return 0, syscall.ENOTSUP
	}
	if !slices.Contains(names, attr) {
		return 0, noData
	}
	if len(dest) < len(value) {
		return uint32(len(value)), syscall.ERANGE
	}
	return uint32(copy(dest, value)), 0
}

// listxattr answers listxattr for a node whose attributes are names.
func (f *FS) listxattr(names []string, dest []byte) (uint32, syscall.Errno) {
	if !f.o.XAttr {
		return 0, syscall.ENOTSUP
	}
	var list string
	for _, n := range names {
		list += n + "\x00"
	}
	if len(dest) < len(list) {
		return uint32(len(list)), syscall.ERANGE
	}
	return uint32(copy(dest, list)), 0
}

// inodeTable hands out inode numbers by content: directories by digest,
// files by digest and executable bit (tvix keys files by digest alone,
// which would give an executable and a plain copy one mode), symlinks by
// target. It grows with the distinct nodes seen during the mount.
type inodeTable struct {
	mu   sync.Mutex
	next uint64
	m    map[string]uint64
}

func (t *inodeTable) ino(n castore.Node) uint64 {
	var key string
	switch n.Type {
	case castore.NodeDirectory:
		key = "d" + string(n.Digest[:])
	case castore.NodeFile:
		key = "f" + string(n.Digest[:])
		if n.Executable {
			key = "x" + string(n.Digest[:])
		}
	default:
		key = "l" + n.Target
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ino, ok := t.m[key]; ok {
		return ino
	}
	ino := t.next
	t.next++
	t.m[key] = ino
	return ino
}
