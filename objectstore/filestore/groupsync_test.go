package filestore

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castore-go/castore/objectstore"
)

// TestGroupSyncerCoversCaller: wait returns only after a sync that started
// after wait was called, even when a sync is in progress at the call.
func TestGroupSyncerCoversCaller(t *testing.T) {
	var started, finished atomic.Int64
	inSync := make(chan struct{}, 1)
	release := make(chan struct{})
	g := groupSyncer{sync: func() error {
		n := started.Add(1)
		if n == 1 {
			inSync <- struct{}{}
			<-release // hold the first round open
		}
		finished.Store(n)
		return nil
	}}
	first := make(chan error)
	go func() { first <- g.wait(context.Background()) }()
	<-inSync // round 1 is running

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			before := started.Load() // 1: this call comes after round 1 began
			if err := g.wait(context.Background()); err != nil {
				t.Error(err)
			}
			if got := finished.Load(); got <= before {
				t.Errorf("wait returned after round %d, which started before the call", got)
			}
		})
	}
	for g.joined.Load() < 9 {
		runtime.Gosched() // until all have joined a round
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestGroupSyncerError(t *testing.T) {
	boom := errors.New("disk on fire")
	g := groupSyncer{sync: func() error { return boom }}
	if err := g.wait(context.Background()); !errors.Is(err, boom) {
		t.Errorf("wait = %v, want the sync's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	block := make(chan struct{})
	// A syncer of its own: the first one's goroutine may still be ending.
	blocked := groupSyncer{sync: func() error { <-block; return nil }}
	if err := blocked.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with a cancelled context = %v", err)
	}
	close(block)
}

// close waits for a round that is still running although its only waiter
// gave up (the sync may use what the store frees after close), and
// afterwards wait refuses.
func TestGroupSyncerCloseWaitsForRunningRound(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	g := groupSyncer{sync: func() error { close(started); <-release; return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	if err := g.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait = %v, want the cancellation", err)
	}
	closed := make(chan struct{})
	go func() { g.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while a sync was running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-closed
	if err := g.wait(context.Background()); !errors.Is(err, objectstore.ErrClosed) {
		t.Errorf("wait after close = %v, want ErrClosed", err)
	}
}
