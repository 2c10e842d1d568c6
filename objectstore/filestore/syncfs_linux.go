package filestore

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the whole file system holding dir, data and metadata, and
// reports write-back errors (Linux 5.8 and later).
func syncFS(dir *os.File) error {
	return unix.Syncfs(int(dir.Fd()))
}
