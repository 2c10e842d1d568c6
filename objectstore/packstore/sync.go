package packstore

import (
	"os"
	"sync"
	"sync/atomic"
)

// syncFile syncs a pack (a test holds it up).
var syncFile = (*os.File).Sync

// syncer shares one sync of a pack among every writer waiting for it
// (group commit): a Put waits until a sync that began after its record
// was written has finished.
type syncer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	syncs   atomic.Int64 // syncs made, for tests
}

// wait returns once pack p is on disk up to end.
func (y *syncer) wait(p *pack, end int64) error {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.cond == nil {
		y.cond = sync.NewCond(&y.mu)
	}
	for p.synced < end {
		if p.failed != nil {
			return p.failed
		}
		if y.running {
			y.cond.Wait()
			continue
		}
		y.running = true
		target := p.written.Load()
		y.mu.Unlock()
		err := syncFile(p.f)
		y.syncs.Add(1)
		y.mu.Lock()
		y.running = false
		if err == nil {
			p.synced = max(p.synced, target)
		} else if p.failed == nil {
			p.failed = err
		}
		y.cond.Broadcast()
		if err != nil {
			return err
		}
	}
	return nil
}

// markSynced records that p is on disk up to end (it was synced as a
// whole, when sealed).
func (y *syncer) markSynced(p *pack, end int64) {
	y.mu.Lock()
	p.synced = max(p.synced, end)
	if y.cond != nil {
		y.cond.Broadcast()
	}
	y.mu.Unlock()
}
