package fusefront

import (
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// directMountFlags are the flags of a mount made without fusermount (as
// root): read-only, no setuid, no devices.
const directMountFlags = syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_RDONLY

// raiseReadahead lets the kernel read ahead up to max bytes of a file
// instead of FUSE's default 128 KiB, which halves sequential throughput.
// Only root may (through the mount's /sys/class/bdi entry); otherwise the
// default stays.
func raiseReadahead(mnt string, max int, log *slog.Logger) {
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		return
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(p, []byte(fmt.Sprint(max>>10)), 0); err != nil {
		log.Debug("fusefront: cannot raise the readahead", "file", p, "err", err)
	}
}

// canOpendirWithoutRequest reports whether the kernel opens directories
// without a request once an OPENDIR is answered ENOSYS (Linux 5.1 on).
func canOpendirWithoutRequest(k *fuse.InitIn) bool {
	return k.Flags&fuse.CAP_NO_OPENDIR_SUPPORT != 0
}

// lazyUnmount detaches the mount now (umount -l).
func lazyUnmount(mnt string) error { return syscall.Unmount(mnt, syscall.MNT_DETACH) }
