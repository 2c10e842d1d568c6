package chunkstore

import (
	"sync"

	"github.com/castore-go/castore"
)

// A write's buffers are reused from one blob to the next: its hasher
// (BLAKE3's is about 9 KiB), the bytes of a small blob held until Close,
// and each chunk cut from a larger one until it is stored. An import of
// GOROOT (15,000 files) made 144 MB of hashers, 80 MB of growing small
// blobs and 148 MB of chunk copies, all garbage moments later.

// hashers holds reset hashers.
var hashers sync.Pool

func getHasher() *castore.Hasher {
	if h, ok := hashers.Get().(*castore.Hasher); ok {
		return h
	}
	return castore.NewHasher()
}

func putHasher(h *castore.Hasher) {
	h.Reset()
	hashers.Put(h)
}

// bufPool holds byte buffers of one capacity: a store's small blobs
// (half its average chunk size) or its chunks (twice it, FastCDC's
// largest).
type bufPool struct {
	size int
	pool sync.Pool // *[]byte of cap size
}

// get returns an empty buffer of capacity size.
func (p *bufPool) get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, p.size)
}

// put takes back a buffer from get, once nothing refers to its bytes; a
// buffer grown past size (or nil) is left to the collector.
func (p *bufPool) put(b []byte) {
	if cap(b) != p.size {
		return
	}
	p.pool.Put(&b)
}
