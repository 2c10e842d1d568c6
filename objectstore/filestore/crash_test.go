package filestore_test

import (
	"testing"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/storetest"
)

// TestFileCrash is the crash test (storetest.Crash): SIGKILL in the middle
// of concurrent puts, then every acknowledged put reads back whole and no
// object is torn. Durability past a power loss rests on the syncs (see
// SyncGroup).
func TestFileCrash(t *testing.T) {
	storetest.Crash(t, "TestFileCrash", 300, func(dir string) (objectstore.Store, error) {
		s, err := filestore.New(dir, nil)
		if err != nil {
			return nil, err
		}
		return s, nil
	})
}
