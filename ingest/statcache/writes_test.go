package statcache

// writes is how many page writes c's database made.
func writes(c *Cache) int64 {
	st := c.db.Stats()
	return st.TxStats.GetWrite()
}

// reads is how many read transactions c's database began.
func reads(c *Cache) int { return c.db.Stats().TxN }

// derefs is how many nodes c's database copied out of its map (it does
// before mapping the file again).
func derefs(c *Cache) int64 {
	st := c.db.Stats()
	return st.TxStats.GetNodeDeref()
}

// cursors is how many cursors c's transactions made (each Get makes one).
func cursors(c *Cache) int64 {
	st := c.db.Stats()
	return st.TxStats.GetCursorCount()
}
