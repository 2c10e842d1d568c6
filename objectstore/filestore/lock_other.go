//go:build !unix

package filestore

import (
	"os"
	"sync"
)

// lockMu stands in for flock(2): it excludes the goroutines of this
// process only.
var lockMu sync.Mutex

func lockDir(*os.File) (release func(), err error) {
	lockMu.Lock()
	return lockMu.Unlock, nil
}
