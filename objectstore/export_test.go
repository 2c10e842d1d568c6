package objectstore

// SyncRounds reports how many group syncs f has run.
func SyncRounds(f *File) int64 { return f.group.rounds.Load() }
