package filestore

import "os"

// SyncRounds reports how many group syncs s has run.
func SyncRounds(s *Store) int64 { return s.f.group.rounds.Load() }

// Unnamed reports whether s's PutIfAbsent writes unnamed files.
func Unnamed(s *Store) bool { return s.f.unnamed }

// UseNamedTemps makes s's PutIfAbsent write named temporary files, as it
// does where unnamed ones are not supported.
func UseNamedTemps(s *Store) { s.f.unnamed = false }

// RefuseUnnamed makes s's unnamed files fail as on a file system without
// them (as one mounted inside the store might be).
func RefuseUnnamed(s *Store) {
	s.f.openUnnamed = func(string) (*os.File, error) { return nil, errNoUnnamed }
}
