package filestore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
)

// Stores opened separately on one directory (as two processes would) keep
// each other's preconditions: the lock is the directory's, not the
// Store value's.
func TestFileConditionalAcrossStores(t *testing.T) {
	root := t.TempDir()
	var stores [2]*filestore.Store
	for i := range stores {
		s, err := filestore.New(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	for round := range 5 {
		key := fmt.Sprintf("k%d", round)
		var wg sync.WaitGroup
		var wins, conflicts sync.Map
		for i := range 16 {
			wg.Go(func() {
				_, err := objectstore.PutIfVersion(t.Context(), stores[i%2], key, strings.NewReader(fmt.Sprint(i)), objectstore.NoVersion)
				switch {
				case err == nil:
					wins.Store(i, true)
				case errors.Is(err, objectstore.ErrPrecondition):
					conflicts.Store(i, true)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		n := 0
		wins.Range(func(any, any) bool { n++; return true })
		if n != 1 {
			t.Fatalf("round %d: %d writers created the key, want 1", round, n)
		}
	}
}
