package objectstore

import (
	"context"
	"sync"
	"sync/atomic"
)

// groupSyncer shares one sync among all writers waiting when it starts
// (group commit). wait returns after a sync that began after wait was
// called, so everything the caller wrote before calling it is covered.
type groupSyncer struct {
	sync   func() error
	rounds atomic.Int64 // syncs run, for benchmarks
	joined atomic.Int64 // wait calls that joined a round, for tests

	mu      sync.Mutex
	next    *syncRound // the round waiters join; nil if none is pending
	running bool       // a goroutine is running rounds
}

type syncRound struct {
	done chan struct{}
	err  error
}

// wait joins the next round and waits for it, or for ctx. The round runs
// either way.
func (g *groupSyncer) wait(ctx context.Context) error {
	g.mu.Lock()
	r := g.next
	if r == nil {
		r = &syncRound{done: make(chan struct{})}
		g.next = r
	}
	g.joined.Add(1)
	if !g.running {
		g.running = true
		go g.run()
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run syncs round after round until nobody waits. A round is detached from
// next before its sync starts, so later waiters join a later round.
func (g *groupSyncer) run() {
	for {
		g.mu.Lock()
		r := g.next
		g.next = nil
		if r == nil {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.rounds.Add(1)
		r.err = g.sync()
		close(r.done)
	}
}
