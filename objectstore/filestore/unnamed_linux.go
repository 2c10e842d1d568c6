package filestore

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openUnnamed creates a file in dir that has no name yet (O_TMPFILE): it
// vanishes when closed unless linkUnnamed gave it one, and no crash can
// leave it behind. It returns errNoUnnamed where the kernel or the file
// system cannot.
func openUnnamed(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	switch {
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EINVAL):
		// EISDIR: a kernel older than O_TMPFILE (3.11) sees O_DIRECTORY.
		return nil, errNoUnnamed
	case err != nil:
		return nil, &os.PathError{Op: "create unnamed file in", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir+"/(unnamed)"), nil
}

// linkUnnamed names f target, failing with fs.ErrExist if target exists.
// It links through /proc/self/fd, which needs no privilege (linkat with
// AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
func linkUnnamed(f *os.File, target string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, target, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: target, Err: err}
	}
	return nil
}

// canUnnamed reports whether unnamed files work in dir: they can be
// created there and /proc/self/fd can name them.
func canUnnamed(dir string) bool {
	f, err := openUnnamed(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = os.Stat("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	return err == nil
}
