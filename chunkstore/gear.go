package chunkstore

import (
	"io"
	"sync"
)

// gear orders fastcdc-go's uses of its package-level gear table.
// v0.2.0's NewChunker XORs the table with Options.Seed in place: with the
// seed left at 0 it writes back the same values, but those writes race
// with other chunkers reading the table in Next. So NewChunker runs under
// the write lock and Next under the read lock, which Next gives up while
// it waits to read input (gearUnlocked): a chunker waiting for its
// writer's bytes must not hold up another blob's NewChunker, as that blob
// may be what its writer is busy with.
var gear sync.RWMutex

// gearUnlocked is a chunker's input, read without the gear lock.
type gearUnlocked struct{ r io.Reader }

func (g gearUnlocked) Read(p []byte) (int, error) {
	gear.RUnlock()
	defer gear.RLock()
	return g.r.Read(p)
}
