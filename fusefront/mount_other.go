//go:build !linux

package fusefront

import (
	"log/slog"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// directMountFlags: go-fuse mounts through its platform's helper.
const directMountFlags = 0

// raiseReadahead does nothing where the readahead cannot be set.
func raiseReadahead(mnt string, max int, log *slog.Logger) {}

// canOpendirWithoutRequest: elsewhere directories are opened with a
// request.
func canOpendirWithoutRequest(k *fuse.InitIn) bool { return false }

// lazyUnmount forces the unmount: there is no lazy one.
func lazyUnmount(mnt string) error { return unix.Unmount(mnt, unix.MNT_FORCE) }
