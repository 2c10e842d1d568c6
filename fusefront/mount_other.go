//go:build !linux

package fusefront

import (
	"log/slog"

	"golang.org/x/sys/unix"
)

// directMountFlags: go-fuse mounts through its platform's helper.
const directMountFlags = 0

// raiseReadahead does nothing where the readahead cannot be set.
func raiseReadahead(mnt string, max int, log *slog.Logger) {}

// lazyUnmount forces the unmount: there is no lazy one.
func lazyUnmount(mnt string) error { return unix.Unmount(mnt, unix.MNT_FORCE) }
