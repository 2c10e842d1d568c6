//go:build !linux

package filestore

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS falls back to sync(2). Outside Linux it may return before the data
// is on disk, so SyncGroup is durable only on Linux; use SyncEach elsewhere.
func syncFS(*os.File) error {
	unix.Sync()
	return nil
}
