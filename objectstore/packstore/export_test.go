package packstore

import "os"

// Syncs is how many syncs of an open pack s's writers and Sync made.
func Syncs(s *Store) int64 { return s.d.sync.syncs.Load() }

// HoldSyncs makes every sync of a pack call hold first, until the test
// ends.
func HoldSyncs(t interface{ Cleanup(func()) }, hold func(name string)) {
	prev := syncFile
	syncFile = func(f *os.File) error { hold(f.Name()); return prev(f) }
	t.Cleanup(func() { syncFile = prev })
}
