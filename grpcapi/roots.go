package grpcapi

import (
	"sync"

	"github.com/castore-go/castore"
)

// rootHints remembers, for each subdirectory named by a directory a
// DirectoryClient was given, the root of the closure it was reached from
// (the digest first asked for, with Get or GetRecursive). That a
// directory is below a root never stops being true, so a hint never goes
// wrong; it only lets the client read a directory the server does not
// address (bundles, or a frontend whose cache has not seen the closure)
// out of its root's closure. At most maxRootHints are kept; when full,
// all are dropped and learnt again.
type rootHints struct {
	mu sync.Mutex
	m  map[castore.Digest]castore.Digest
}

// maxRootHints bounds the hints of one client (about 5 MiB).
const maxRootHints = 1 << 16

// record notes each subdirectory of dir as below root.
func (h *rootHints) record(dir *castore.Directory, root castore.Digest) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range dir.Entries() {
		if e.Node.Type != castore.NodeDirectory || e.Node.Digest == root {
			continue
		}
		if h.m == nil || len(h.m) >= maxRootHints {
			h.m = make(map[castore.Digest]castore.Digest)
		}
		h.m[e.Node.Digest] = root
	}
}

// rootOf returns the root d was seen below.
func (h *rootHints) rootOf(d castore.Digest) (castore.Digest, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.m[d]
	return r, ok
}
