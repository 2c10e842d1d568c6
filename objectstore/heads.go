package objectstore

// IndexedHeads is implemented by stores that answer Head from an index
// they keep in memory (packstore): a Head costs no request and no read
// of the object, far less than a Get. A caller that needs only to know
// whether an object is there, and how old it is, asks such a store Head
// rather than reading the object (chunkstore's Has).
type IndexedHeads interface {
	// HeadsIndexed reports whether Head is answered from memory.
	HeadsIndexed() bool
}

// HeadsIndexed reports whether s answers Head from an index in memory:
// false for a store that does not say so.
func HeadsIndexed(s Store) bool {
	h, ok := s.(IndexedHeads)
	return ok && h.HeadsIndexed()
}

var (
	_ IndexedHeads = (*Portable)(nil)
	_ IndexedHeads = (*Instrumented)(nil)
	_ IndexedHeads = (*Deadline)(nil)
)

// HeadsIndexed is the driver's.
func (p *Portable) HeadsIndexed() bool { return HeadsIndexed(p.driver) }

// HeadsIndexed is the wrapped store's: a span and a count per Head cost
// no I/O either.
func (s *Instrumented) HeadsIndexed() bool { return HeadsIndexed(s.Store) }

// HeadsIndexed is the wrapped store's.
func (d *Deadline) HeadsIndexed() bool { return HeadsIndexed(d.Store) }
