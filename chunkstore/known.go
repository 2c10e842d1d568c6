package chunkstore

import (
	"sync"

	"github.com/castore-go/castore"
)

// knownSet remembers digests known to be stored. Content never changes,
// so a positive answer stays true; the set only forgets (oldest first) to
// stay within its bound.
type knownSet struct {
	mu    sync.Mutex
	set   map[castore.Digest]struct{}
	ring  []castore.Digest
	next  int
	limit int
}

func newKnownSet(limit int) *knownSet {
	return &knownSet{set: make(map[castore.Digest]struct{}), limit: limit}
}

func (k *knownSet) has(d castore.Digest) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.set[d]
	return ok
}

func (k *knownSet) add(d castore.Digest) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.set[d]; ok {
		return
	}
	if len(k.ring) < k.limit {
		k.ring = append(k.ring, d)
	} else {
		delete(k.set, k.ring[k.next])
		k.ring[k.next] = d
		k.next = (k.next + 1) % k.limit
	}
	k.set[d] = struct{}{}
}
