//go:build unix

package filestore

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive flock(2) of dir's open file description,
// waiting for it.
func lockDir(dir *os.File) (release func(), err error) {
	for {
		err = syscall.Flock(int(dir.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return func() { syscall.Flock(int(dir.Fd()), syscall.LOCK_UN) }, nil
}
