package chunkstore

import (
	"sync"

	"github.com/castore-go/castore"
)

// knownSet remembers digests known to be stored, with their sizes where
// known. Content never changes, so a positive answer stays true; the set
// only forgets (oldest first) to stay within its bound.
type knownSet struct {
	mu    sync.Mutex
	set   map[castore.Digest]int64 // size, or -1 if not known
	ring  []castore.Digest
	next  int
	limit int
}

func newKnownSet(limit int) *knownSet {
	return &knownSet{set: make(map[castore.Digest]int64), limit: limit}
}

func (k *knownSet) has(d castore.Digest) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.set[d]
	return ok
}

// size returns d's size if d is known with one.
func (k *knownSet) size(d castore.Digest) (uint64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.set[d]
	return uint64(s), ok && s >= 0
}

// add records d as stored, its size not known.
func (k *knownSet) add(d castore.Digest) { k.addSize(d, -1) }

// addSize records d as stored with size bytes (-1: not known); a size
// once known is kept.
func (k *knownSet) addSize(d castore.Digest, size int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.set[d]; ok {
		if s < 0 && size >= 0 {
			k.set[d] = size
		}
		return
	}
	if len(k.ring) < k.limit {
		k.ring = append(k.ring, d)
	} else {
		delete(k.set, k.ring[k.next])
		k.ring[k.next] = d
		k.next = (k.next + 1) % k.limit
	}
	k.set[d] = size
}
