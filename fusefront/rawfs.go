package fusefront

import (
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// rawFS is go-fuse's node filesystem with directories opened without a
// request: once the kernel allows it (it offered FUSE_NO_OPENDIR_SUPPORT
// at INIT), the first OPENDIR is answered ENOSYS, after which the kernel
// opens directories on its own (keeping their listings cached, as
// FOPEN_CACHE_DIR would) and sends no OPENDIR or RELEASEDIR again: two
// requests fewer for each directory a tree walk enters. Its readdirs then
// carry no handle; each is served through a handle opened and released
// here, which costs no request (a directory's listing never changes, and
// a handle seeks to any offset). go-fuse's node filesystem does not do
// this itself: without a handle it lists nothing.
//
// It also counts the requests that a walk over the mount costs, for tests,
// and tells the pusher when requests come and when replies that may name
// files go (see pusher).
type rawFS struct {
	fuse.RawFileSystem
	// noOpendir: every directory can be opened (the root is not an
	// unlisted one, whose opendir is EPERM) and the kernel supports
	// opening directories without a request.
	noOpendir atomic.Bool
	counts    requestCounts
	push      *pusher // told when a request that names files is answered
}

// requestCounts counts requests by kind.
type requestCounts struct {
	lookup, open, read, flush, release, openDir, readDir, releaseDir atomic.Int64
}

func (r *rawFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	r.counts.lookup.Add(1)
	r.push.request(pushSync)
	defer r.push.replied()
	return r.RawFileSystem.Lookup(cancel, header, name, out)
}

func (r *rawFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	r.counts.open.Add(1)
	return r.RawFileSystem.Open(cancel, in, out)
}

func (r *rawFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	r.counts.read.Add(1)
	r.push.request(0)
	return r.RawFileSystem.Read(cancel, in, buf)
}

func (r *rawFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	r.counts.flush.Add(1)
	return r.RawFileSystem.Flush(cancel, in)
}

func (r *rawFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	r.counts.release.Add(1)
	r.RawFileSystem.Release(cancel, in)
}

func (r *rawFS) ReleaseDir(in *fuse.ReleaseIn) {
	r.counts.releaseDir.Add(1)
	r.RawFileSystem.ReleaseDir(in)
}

// OpenDir opens the directory, and then, if directories can be opened
// without a request, releases it again and answers ENOSYS, which tells the
// kernel so. An error (a missing node, a refused listing) is answered as
// it is.
func (r *rawFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	r.counts.openDir.Add(1)
	st := r.RawFileSystem.OpenDir(cancel, in, out)
	if st != fuse.OK || !r.noOpendir.Load() {
		return st
	}
	r.RawFileSystem.ReleaseDir(&fuse.ReleaseIn{InHeader: in.InHeader, Fh: out.Fh})
	*out = fuse.OpenOut{}
	return fuse.Status(syscall.ENOSYS)
}

func (r *rawFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	r.push.request(0)
	return r.readDir(cancel, in, out, r.RawFileSystem.ReadDir)
}

func (r *rawFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	r.push.request(pushSync)
	defer r.push.replied()
	return r.readDir(cancel, in, out, r.RawFileSystem.ReadDirPlus)
}

// readDir serves a readdir; one without a handle (the kernel opened the
// directory without a request) through a handle of its own.
func (r *rawFS) readDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList, read func(<-chan struct{}, *fuse.ReadIn, *fuse.DirEntryList) fuse.Status) fuse.Status {
	r.counts.readDir.Add(1)
	if in.Fh != 0 {
		return read(cancel, in, out)
	}
	var open fuse.OpenOut
	if st := r.RawFileSystem.OpenDir(cancel, &fuse.OpenIn{InHeader: in.InHeader, Flags: syscall.O_RDONLY | syscall.O_DIRECTORY}, &open); st != fuse.OK {
		return st
	}
	defer r.RawFileSystem.ReleaseDir(&fuse.ReleaseIn{InHeader: in.InHeader, Fh: open.Fh})
	withFh := *in
	withFh.Fh = open.Fh
	return read(cancel, &withFh, out)
}
