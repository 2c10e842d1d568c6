package fusefront

import (
	"errors"
	"fmt"
	"sync"

	"github.com/castore-go/castore"
)

// PrefetchMode says what a mount fetches before it is read.
type PrefetchMode string

const (
	// PrefetchOff fetches only what is read.
	PrefetchOff PrefetchMode = "off"
	// PrefetchDir fetches, when a directory is first listed or looked up
	// in, the small files of its subtree in depth-first order (the order
	// tar, cp -r and find read them), up to PrefetchLookahead files.
	PrefetchDir PrefetchMode = "dir"
	// PrefetchTree fetches the small files of the whole mounted tree,
	// breadth first, from the moment it is mounted.
	PrefetchTree PrefetchMode = "tree"
)

// ParsePrefetchMode parses "off", "dir" or "tree"; "" is PrefetchDir.
func ParsePrefetchMode(s string) (PrefetchMode, error) {
	switch m := PrefetchMode(s); m {
	case "":
		return PrefetchDir, nil
	case PrefetchOff, PrefetchDir, PrefetchTree:
		return m, nil
	}
	return "", fmt.Errorf("prefetch mode %q: want off, dir or tree", s)
}

// Prefetch defaults.
const (
	// DefaultPrefetchMaxFile: files up to this size are prefetched.
	DefaultPrefetchMaxFile = 1 << 20
	// DefaultPrefetchBytes bounds what one mount prefetches in all.
	DefaultPrefetchBytes = 1 << 30
	// PrefetchLookahead is how many files one listing queues in dir mode.
	PrefetchLookahead = 4096
	// prefetchWorkers is how many batches are on the way at once.
	prefetchWorkers = 2
	// prefetchGroup is how many blobs one worker hands the cache at once
	// (it splits them into batches of its own).
	prefetchGroup = 256
)

// prefetcher fetches the small files of directories into the mount's
// cache ahead of their reads. A walker goroutine turns listed directories
// (or, in tree mode, the whole tree) into a queue of blobs; workers hand
// the queue to the cache in groups. Everything stops when the mount does.
type prefetcher struct {
	f    *FS
	p    castore.Prefetcher
	mode PrefetchMode

	mu     sync.Mutex
	cond   *sync.Cond
	listed []castore.Digest        // directories listed, not yet walked
	queue  []castore.ChunkMeta     // blobs to fetch, oldest first
	seen   map[castore.Digest]bool // blobs queued already
	walked map[castore.Digest]bool // directories whose files were queued
	budget int64                   // bytes still to be queued
	full   bool                    // the budget ran out (logged once)
	closed bool
	wg     sync.WaitGroup
	once   sync.Once
}

// newPrefetcher starts prefetching for f, or returns nil if the mode is
// off or the blob service keeps no cache to prefetch into.
func newPrefetcher(f *FS, roots []castore.Node) *prefetcher {
	if f.o.Prefetch == PrefetchOff {
		return nil
	}
	p, ok := f.blobs.(castore.Prefetcher)
	if !ok {
		f.log.Info("prefetch is off: the mount has no cache to fetch into", "mode", string(f.o.Prefetch))
		return nil
	}
	pf := &prefetcher{f: f, p: p, mode: f.o.Prefetch, seen: map[castore.Digest]bool{}, walked: map[castore.Digest]bool{}, budget: f.o.PrefetchBytes}
	pf.cond = sync.NewCond(&pf.mu)
	pf.wg.Add(1 + prefetchWorkers)
	go pf.walker(roots)
	for range prefetchWorkers {
		go pf.worker()
	}
	return pf
}

// dirListed tells the prefetcher a directory was fetched for a lookup or
// listing.
func (pf *prefetcher) dirListed(d castore.Digest) {
	if pf == nil || pf.mode != PrefetchDir {
		return
	}
	pf.mu.Lock()
	if !pf.walked[d] && !pf.closed {
		pf.listed = append(pf.listed, d)
		pf.cond.Broadcast()
	}
	pf.mu.Unlock()
}

// close stops the prefetcher (the mount's context is cancelled already)
// and logs what it did.
func (pf *prefetcher) close() {
	if pf == nil {
		return
	}
	pf.once.Do(pf.stop)
}

func (pf *prefetcher) stop() {
	pf.mu.Lock()
	pf.closed = true
	pf.cond.Broadcast()
	pf.mu.Unlock()
	pf.wg.Wait()
	st := pf.p.PrefetchStats()
	pf.f.log.Info("prefetch", "mode", string(pf.mode), "fetched_blobs", st.Blobs, "fetched_bytes", st.Bytes, "used_blobs", st.UsedBlobs, "used_bytes", st.UsedBytes)
}

// walker queues the small files of listed directories (dir mode) or of
// the whole tree (tree mode).
func (pf *prefetcher) walker(roots []castore.Node) {
	defer pf.wg.Done()
	if pf.mode == PrefetchTree {
		pf.walkTree(roots)
		return
	}
	for {
		pf.mu.Lock()
		for len(pf.listed) == 0 && !pf.closed {
			pf.cond.Wait()
		}
		if pf.closed {
			pf.mu.Unlock()
			return
		}
		// The most recently listed first: that is where the reader is.
		d := pf.listed[len(pf.listed)-1]
		pf.listed = pf.listed[:len(pf.listed)-1]
		pf.mu.Unlock()
		pf.walkDepthFirst(d)
	}
}

// walkDepthFirst queues the small files under root, depth first, until
// PrefetchLookahead files are queued or the subtree is done.
func (pf *prefetcher) walkDepthFirst(root castore.Digest) {
	stack := []castore.Digest{root}
	queued := 0
	for len(stack) > 0 && queued < PrefetchLookahead {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		dir, ok := pf.visit(d)
		if !ok {
			continue
		}
		n, more := pf.queueFiles(dir)
		queued += n
		if !more {
			return
		}
		// Push subdirectories in reverse, so the first is walked first.
		var subs []castore.Digest
		for _, e := range dir.Entries() {
			if e.Node.Type == castore.NodeDirectory {
				subs = append(subs, e.Node.Digest)
			}
		}
		for i := len(subs) - 1; i >= 0; i-- {
			stack = append(stack, subs[i])
		}
	}
}

// walkTree queues the small files of the whole tree, breadth first.
func (pf *prefetcher) walkTree(roots []castore.Node) {
	var level []castore.Digest
	for _, n := range roots {
		if n.Type == castore.NodeDirectory {
			level = append(level, n.Digest)
		}
	}
	for len(level) > 0 {
		var next []castore.Digest
		for _, d := range level {
			dir, ok := pf.visit(d)
			if !ok {
				continue
			}
			if _, more := pf.queueFiles(dir); !more {
				return
			}
			for _, e := range dir.Entries() {
				if e.Node.Type == castore.NodeDirectory {
					next = append(next, e.Node.Digest)
				}
			}
		}
		level = next
	}
}

// visit fetches directory d for a walk, unless it was walked already or
// the mount is stopping.
func (pf *prefetcher) visit(d castore.Digest) (*castore.Directory, bool) {
	pf.mu.Lock()
	if pf.walked[d] || pf.closed {
		pf.mu.Unlock()
		return nil, false
	}
	pf.walked[d] = true
	pf.mu.Unlock()
	dir, err := pf.f.dirs.Get(pf.f.ctx, d)
	if err != nil {
		if pf.f.ctx.Err() == nil {
			pf.f.log.Warn("prefetch: get directory", "directory", d.String(), "err", err)
		}
		return nil, false
	}
	return dir, true
}

// queueFiles queues dir's small files. more is false once the budget has
// run out or the mount is stopping.
func (pf *prefetcher) queueFiles(dir *castore.Directory) (n int, more bool) {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	for _, e := range dir.Entries() {
		if pf.closed {
			return n, false
		}
		fn := e.Node
		if fn.Type != castore.NodeFile || fn.Size == 0 || fn.Size > uint64(pf.f.o.PrefetchMaxFile) || pf.seen[fn.Digest] {
			continue
		}
		if int64(fn.Size) > pf.budget {
			if !pf.full {
				pf.full = true
				pf.f.log.Info("prefetch stopped: it fetched as much as its bound allows", "bound", pf.f.o.PrefetchBytes)
			}
			return n, false
		}
		pf.budget -= int64(fn.Size)
		pf.seen[fn.Digest] = true
		pf.queue = append(pf.queue, castore.ChunkMeta{Digest: fn.Digest, Size: fn.Size})
		n++
	}
	if n > 0 {
		pf.cond.Broadcast()
	}
	return n, true
}

// worker hands queued blobs to the cache in groups.
func (pf *prefetcher) worker() {
	defer pf.wg.Done()
	for {
		pf.mu.Lock()
		for len(pf.queue) == 0 && !pf.closed {
			pf.cond.Wait()
		}
		if pf.closed {
			pf.mu.Unlock()
			return
		}
		k := min(len(pf.queue), prefetchGroup)
		group := pf.queue[:k:k]
		pf.queue = pf.queue[k:]
		pf.mu.Unlock()
		err := pf.p.Prefetch(pf.f.ctx, group)
		switch {
		case err == nil || pf.f.ctx.Err() != nil:
		case errors.Is(err, errors.ErrUnsupported):
			pf.f.log.Info("prefetch is off: the store cannot fetch in batches", "err", err)
			pf.mu.Lock()
			pf.closed = true
			pf.cond.Broadcast()
			pf.mu.Unlock()
			return
		default:
			pf.f.log.Warn("prefetch", "blobs", len(group), "err", err)
		}
	}
}
