//go:build !linux

package filestore

import (
	"io/fs"
	"time"
)

// atime is when the file was last read; where it is not known, its
// modification time.
func atime(fi fs.FileInfo) time.Time { return fi.ModTime() }
