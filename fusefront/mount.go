package fusefront

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/castore-go/castore"
)

// Server is a mounted filesystem being served.
type Server struct {
	fs         *FS
	srv        *fuse.Server
	raw        *rawFS
	mountpoint string
}

// Mount mounts root read-only at mountpoint and serves it until Unmount.
// It refuses a mount point that is a dead FUSE mount (left by a crash) or
// already a mount point, with an error that says how to clear it. As root
// it mounts directly; otherwise it needs fusermount3 or fusermount.
func Mount(mountpoint string, blobs castore.BlobService, dirs castore.DirectoryService, root Root, o Options) (*Server, error) {
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		return nil, err
	}
	if err := CheckMountpoint(abs); err != nil {
		return nil, err
	}
	f := newFS(blobs, dirs, o)
	rootNode, err := f.rootNode(root)
	if err != nil {
		return nil, err
	}
	roots := []castore.Node{root.Node}
	if root.Node.Type == 0 {
		roots = roots[:0]
		for _, n := range root.Named {
			roots = append(roots, n)
		}
	}
	f.pf = newPrefetcher(f, roots)
	if f.pf != nil {
		f.push = newPusher(f)
	}
	timeout := cacheTimeout
	opts := &fs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:           f.o.AllowOther,
			Options:              []string{"ro", "default_permissions"},
			FsName:               "castore",
			Name:                 "castore",
			DirectMount:          true,
			DirectMountFlags:     directMountFlags,
			MaxBackground:        f.o.Threads,
			MaxWrite:             f.o.MaxRead,
			MaxReadAhead:         f.o.MaxRead,
			DisableXAttrs:        !f.o.XAttr,
			IgnoreSecurityLabels: true,
			DisableSplice:        true, // replies come from memory; 1 MiB reads do not fit a pipe
			Debug:                f.o.Debug,
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
	}
	raw := &rawFS{RawFileSystem: fs.NewNodeFS(rootNode, opts), push: f.push}
	srv, err := fuse.NewServer(raw, abs, &opts.MountOptions)
	if err != nil {
		f.stop()
		return nil, fmt.Errorf("mount %s: %w", abs, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		// As fs.Mount: the serve loop ends with the failed mount.
		f.stop()
		return nil, fmt.Errorf("mount %s: %w", abs, err)
	}
	// Directories open without a request where the kernel can, unless
	// the root is one that refuses to be opened.
	_, unlisted := rootNode.(*namedRoot)
	raw.noOpendir.Store(canOpendirWithoutRequest(srv.KernelSettings()) && !(unlisted && !f.o.ListRoot))
	raiseReadahead(abs, f.o.MaxRead, f.log)
	return &Server{fs: f, srv: srv, raw: raw, mountpoint: abs}, nil
}

// Mountpoint is where the filesystem is mounted.
func (s *Server) Mountpoint() string { return s.mountpoint }

// Wait returns when the filesystem has been unmounted (by Unmount, or by
// fusermount -u / umount from outside).
func (s *Server) Wait() {
	s.srv.Wait()
	s.fs.stop()
}

// Unmount unmounts the filesystem and waits until it is no longer served;
// then it stops the fetches still running. It fails (EBUSY) while files
// are open or a process has its working directory inside; UnmountLazy
// detaches anyway.
func (s *Server) Unmount() error {
	if err := s.srv.Unmount(); err != nil {
		return fmt.Errorf("unmount %s: %w", s.mountpoint, err)
	}
	s.fs.stop()
	return nil
}

// UnmountLazy detaches the mount now (umount -l); processes still using
// it get errors once the server stops.
func (s *Server) UnmountLazy() error {
	if err := lazyUnmount(s.mountpoint); err != nil {
		return fmt.Errorf("unmount -l %s: %w", s.mountpoint, err)
	}
	s.fs.stop()
	return nil
}

// CheckMountpoint reports whether dir can be mounted on: an existing
// directory that is not a dead FUSE mount (ENOTCONN: the process serving
// it has died) and not already a mount point.
func CheckMountpoint(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, syscall.ENOTCONN) {
		return fmt.Errorf("mount point %s is a dead FUSE mount (its server has exited, perhaps a crashed 'castore mount'); clear it with 'fusermount -u %s' (or 'umount -l %s' as root) and try again", dir, dir, dir)
	}
	if err != nil {
		return fmt.Errorf("mount point: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("mount point %s is not a directory", dir)
	}
	parent, err := os.Stat(filepath.Dir(dir))
	if err != nil {
		return fmt.Errorf("mount point: %w", err)
	}
	if dir != "/" && fi.Sys().(*syscall.Stat_t).Dev != parent.Sys().(*syscall.Stat_t).Dev {
		return fmt.Errorf("mount point %s is already a mount point; unmount it first ('fusermount -u %s' or 'umount %s')", dir, dir, dir)
	}
	return nil
}
