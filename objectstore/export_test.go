package objectstore

import "os"

// SyncRounds reports how many group syncs f has run.
func SyncRounds(f *File) int64 { return f.group.rounds.Load() }

// Unnamed reports whether f's PutIfAbsent writes unnamed files.
func Unnamed(f *File) bool { return f.unnamed }

// UseNamedTemps makes f's PutIfAbsent write named temporary files, as it
// does where unnamed ones are not supported.
func UseNamedTemps(f *File) { f.unnamed = false }

// RefuseUnnamed makes f's unnamed files fail as on a file system without
// them (as one mounted inside the store might be).
func RefuseUnnamed(f *File) {
	f.openUnnamed = func(string) (*os.File, error) { return nil, errNoUnnamed }
}
