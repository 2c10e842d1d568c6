package chunkfmt

import (
	"io"
	"sync"

	"github.com/jotfs/fastcdc-go"
)

// DefaultAvgChunkSize is FastCDC's average chunk size unless a store is
// configured otherwise: chunks are then cut between 128 KiB and 512 KiB.
// A client that cuts blobs itself uses it, so that its chunks are the
// ones a server with the default would cut.
const DefaultAvgChunkSize = 256 << 10

// Cutter cuts a stream into chunks with FastCDC: average avg, at least
// avg/2 and at most 2 x avg bytes each (the last may be shorter).
type Cutter struct {
	ch *fastcdc.Chunker
}

// NewCutter returns a Cutter of what r yields.
func NewCutter(r io.Reader, avg int) (*Cutter, error) {
	gear.Lock()
	defer gear.Unlock()
	ch, err := fastcdc.NewChunker(gearUnlocked{r}, fastcdc.Options{AverageSize: avg, MinSize: avg / 2, MaxSize: 2 * avg})
	if err != nil {
		return nil, err
	}
	return &Cutter{ch: ch}, nil
}

// Next returns the next chunk's bytes, valid until the next call, or
// io.EOF after the last.
func (c *Cutter) Next() ([]byte, error) {
	gear.RLock()
	defer gear.RUnlock()
	chunk, err := c.ch.Next()
	if err != nil {
		return nil, err
	}
	return chunk.Data, nil
}

// gear orders fastcdc-go's uses of its package-level gear table.
// v0.2.0's NewChunker XORs the table with Options.Seed in place: with the
// seed left at 0 it writes back the same values, but those writes race
// with other chunkers reading the table in Next. So NewChunker runs under
// the write lock and Next under the read lock, which Next gives up while
// it waits to read input (gearUnlocked): a chunker waiting for its
// writer's bytes must not hold up another blob's NewChunker, as that blob
// may be what its writer is busy with. Every chunker in the process cuts
// through a Cutter, so one lock orders them all.
var gear sync.RWMutex

// gearUnlocked is a chunker's input, read without the gear lock.
type gearUnlocked struct{ r io.Reader }

func (g gearUnlocked) Read(p []byte) (int, error) {
	gear.RUnlock()
	defer gear.RLock()
	return g.r.Read(p)
}
