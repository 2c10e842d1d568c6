package packstore

// Syncs is how many syncs of an open pack s's writers and Sync made.
func Syncs(s *Store) int64 { return s.d.sync.syncs.Load() }
