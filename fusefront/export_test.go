package fusefront

// Requests counts the requests of some kinds the mount has had, by name.
func (s *Server) Requests() map[string]int64 {
	c := &s.raw.counts
	return map[string]int64{
		"LOOKUP": c.lookup.Load(), "OPEN": c.open.Load(), "READ": c.read.Load(), "FLUSH": c.flush.Load(), "RELEASE": c.release.Load(),
		"OPENDIR": c.openDir.Load(), "READDIR": c.readDir.Load(), "RELEASEDIR": c.releaseDir.Load(),
	}
}

// Pushed counts the files whose contents the mount has put into the
// kernel's cache.
func (s *Server) Pushed() int64 {
	if s.fs.push == nil {
		return 0
	}
	return s.fs.push.pushed.Load()
}
