package chunkstore

import (
	"bytes"
	"sync"
)

// compBufs holds buffers for compressed chunks being read: a buffer that
// has grown to a chunk's size takes the next one in a single read, where
// io.ReadAll would start small and grow (a dozen reads and copies for a
// 50 KB chunk).
var compBufs sync.Pool

func getCompBuf() *bytes.Buffer {
	if b, ok := compBufs.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func putCompBuf(b *bytes.Buffer) {
	if b.Cap() > 4<<20 {
		return // a rare huge single-chunk blob: not worth holding on to
	}
	b.Reset()
	compBufs.Put(b)
}
