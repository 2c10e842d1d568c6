package chunkstore

import (
	"sync"
	"time"

	"github.com/castore-go/castore"
)

// knownSet remembers digests known to be stored, with their sizes where
// known, and since when they are known fresh (their object's time at
// least that, so garbage collection keeps them: package gc). Content
// never changes, so a positive answer stays true while garbage collection
// leaves the object be, which a fresh time promises for the grace period;
// the set only forgets (oldest first) to stay within its bound.
type knownSet struct {
	mu    sync.Mutex
	set   map[castore.Digest]known
	ring  []castore.Digest
	next  int
	limit int
}

type known struct {
	size  int64 // or -1 if not known
	fresh int64 // Unix nanoseconds the object's time is at least; 0 not known
}

func newKnownSet(limit int) *knownSet {
	return &knownSet{set: make(map[castore.Digest]known), limit: limit}
}

func (k *knownSet) has(d castore.Digest) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.set[d]
	return ok
}

// hasFresh reports whether d is known stored with a time no earlier than
// since.
func (k *knownSet) hasFresh(d castore.Digest, since time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.set[d]
	return ok && e.fresh >= since.UnixNano()
}

// size returns d's size if d is known with one.
func (k *knownSet) size(d castore.Digest) (uint64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.set[d]
	return uint64(e.size), ok && e.size >= 0
}

// add records d as stored, its size not known.
func (k *knownSet) add(d castore.Digest) { k.addSize(d, -1) }

// addSize records d as stored with size bytes (-1: not known); a size
// once known is kept.
func (k *knownSet) addSize(d castore.Digest, size int64) { k.addFresh(d, size, time.Time{}) }

// addFresh records d as stored with size bytes (-1: not known) and a time
// of at least fresh (zero: not known); the latest freshness is kept.
func (k *knownSet) addFresh(d castore.Digest, size int64, fresh time.Time) {
	var ns int64
	if !fresh.IsZero() {
		ns = fresh.UnixNano()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.set[d]; ok {
		if e.size < 0 && size >= 0 {
			e.size = size
		}
		e.fresh = max(e.fresh, ns)
		k.set[d] = e
		return
	}
	if len(k.ring) < k.limit {
		k.ring = append(k.ring, d)
	} else {
		delete(k.set, k.ring[k.next])
		k.ring[k.next] = d
		k.next = (k.next + 1) % k.limit
	}
	k.set[d] = known{size: size, fresh: ns}
}
