package filestore

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/castore-go/castore/objectstore"
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
	closed  bool       // no more waiters
	runs    sync.WaitGroup
}

type syncRound struct {
	done chan struct{}
	err  error
}

// wait joins the next round and waits for it, or for ctx. The round runs
// either way.
func (g *groupSyncer) wait(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return objectstore.ErrClosed
	}
	r := g.next
	if r == nil {
		r = &syncRound{done: make(chan struct{})}
		g.next = r
	}
	g.joined.Add(1)
	if !g.running {
		g.running = true
		g.runs.Go(g.run)
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close takes no more waiters and returns once the rounds already asked
// for have run: the sync may use what its owner frees next (the store's root
// directory), even for waiters that have given up.
func (g *groupSyncer) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.runs.Wait()
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
