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
	// PrefetchDir fetches, when a directory is first listed, the small
	// files of its subtree in the order tar, cp -r and find read them
	// (depth first, each directory's entries in order), keeping up to
	// PrefetchLookahead files ahead of the reads; when one is first
	// looked up in (a path walked through it), its own small files.
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
	// PrefetchLookahead is how many files dir mode keeps fetched or on
	// the way and not read yet.
	PrefetchLookahead = 4096
	// PrefetchLookaheadBytes bounds their bytes too: the cache keeps
	// about this much of what it prefetched decoded until it is read
	// (or pushed), so files read within the lookahead are not read back
	// out of the cache and decoded again.
	PrefetchLookaheadBytes = 12 << 20
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

	mu          sync.Mutex
	cond        *sync.Cond
	notices     []notice                  // directories listed or looked up in, not yet seen by the walker
	queue       []castore.ChunkMeta       // blobs to fetch, oldest first
	seen        map[castore.Digest]bool   // blobs queued already
	unread      map[castore.Digest]uint64 // blobs queued in dir mode and not read since, with their sizes
	unreadBytes uint64
	complete    map[castore.Digest]bool // directories whose subtrees were queued
	own         map[castore.Digest]bool // directories whose own files were queued
	budget      int64                   // bytes still to be queued
	full        bool                    // the budget ran out (logged once)
	closed      bool
	wg          sync.WaitGroup
	once        sync.Once
}

// notice is a directory listed (subtree) or looked up in.
type notice struct {
	d       castore.Digest
	subtree bool
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
	pf := &prefetcher{f: f, p: p, mode: f.o.Prefetch, seen: map[castore.Digest]bool{}, unread: map[castore.Digest]uint64{},
		complete: map[castore.Digest]bool{}, own: map[castore.Digest]bool{}, budget: f.o.PrefetchBytes}
	pf.cond = sync.NewCond(&pf.mu)
	pf.wg.Add(1 + prefetchWorkers)
	go pf.walker(roots)
	for range prefetchWorkers {
		go pf.worker()
	}
	return pf
}

// dirListed tells the prefetcher a directory was listed for the first
// time: its subtree is to be fetched.
func (pf *prefetcher) dirListed(d castore.Digest) { pf.notify(notice{d, true}) }

// dirLookedUp tells the prefetcher a directory was looked up in for the
// first time (a path is walked through it): its own files are to be
// fetched, not its subtree (a lookup of a/b/c says little about a's
// other subdirectories).
func (pf *prefetcher) dirLookedUp(d castore.Digest) { pf.notify(notice{d, false}) }

func (pf *prefetcher) notify(n notice) {
	if pf == nil || pf.mode != PrefetchDir {
		return
	}
	pf.mu.Lock()
	if !pf.closed {
		pf.notices = append(pf.notices, n)
		pf.cond.Broadcast()
	}
	pf.mu.Unlock()
}

// fileRead tells the prefetcher a file's blob is being read (or was
// pushed into the kernel's cache): dir mode keeps PrefetchLookahead files
// (PrefetchLookaheadBytes) fetched ahead of the reads.
func (pf *prefetcher) fileRead(d castore.Digest) {
	if pf == nil || pf.mode != PrefetchDir {
		return
	}
	pf.mu.Lock()
	if size, ok := pf.unread[d]; ok {
		full := pf.aheadFull()
		delete(pf.unread, d)
		pf.unreadBytes -= size
		if full && !pf.aheadFull() {
			pf.cond.Broadcast()
		}
	}
	pf.mu.Unlock()
}

// aheadFull reports whether dir mode has as many files (or bytes) queued
// and not read as the lookahead allows. Caller holds mu.
func (pf *prefetcher) aheadFull() bool {
	return len(pf.unread) >= PrefetchLookahead || pf.unreadBytes >= PrefetchLookaheadBytes
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
	// The walks of listed subtrees under way, the most recent last: it
	// goes first, as that is where the reader is.
	var walks []*walk
	for {
		pf.mu.Lock()
		for !pf.closed && len(pf.notices) == 0 && (len(walks) == 0 || pf.aheadFull()) {
			pf.cond.Wait()
		}
		if pf.closed || pf.full {
			pf.mu.Unlock()
			return
		}
		notices := pf.notices
		pf.notices = nil
		pf.mu.Unlock()
		for _, n := range notices {
			if n.subtree {
				walks = append(walks, &walk{stack: []frame{{d: n.d}}})
			} else if !pf.queueOwn(n.d) {
				return
			}
		}
		if len(walks) == 0 {
			continue
		}
		w := walks[len(walks)-1]
		done, more := pf.step(w)
		if !more {
			return
		}
		if done {
			walks = walks[:len(walks)-1]
		}
	}
}

// walk is a depth-first walk of a subtree, in the order of each
// directory's entries: a stack of the directories entered, each with the
// index of its next entry.
type walk struct{ stack []frame }

type frame struct {
	d   castore.Digest
	dir *castore.Directory // nil until entered
	i   int
}

// step advances w through the entries of its innermost directory until
// it enters a subdirectory, finishes the directory, or has as many files
// unread as the lookahead allows. done: the walk is over; more is false
// once the budget has run out or the mount is stopping.
func (pf *prefetcher) step(w *walk) (done, more bool) {
	ti := len(w.stack) - 1
	if w.stack[ti].dir == nil {
		d := w.stack[ti].d
		pf.mu.Lock()
		skip := pf.complete[d]
		pf.mu.Unlock()
		var dir *castore.Directory
		ok := false
		if !skip {
			dir, ok = pf.fetchDir(d)
		}
		if !ok {
			w.stack = w.stack[:ti]
			return len(w.stack) == 0, !pf.stopped()
		}
		w.stack[ti].dir = dir
	}
	es := w.stack[ti].dir.Entries()
	pf.mu.Lock()
	defer pf.mu.Unlock()
	queued := 0
	defer func() {
		if queued > 0 {
			pf.cond.Broadcast()
		}
	}()
	for w.stack[ti].i < len(es) {
		if pf.aheadFull() {
			return false, true
		}
		e := es[w.stack[ti].i]
		w.stack[ti].i++
		if e.Node.Type == castore.NodeDirectory {
			if !pf.complete[e.Node.Digest] {
				w.stack = append(w.stack, frame{d: e.Node.Digest})
				return false, true
			}
			continue
		}
		switch ok, more := pf.queueLocked(e.Node, true); {
		case !more:
			return false, false
		case ok:
			queued++
		}
	}
	pf.complete[w.stack[ti].d] = true
	w.stack = w.stack[:ti]
	return len(w.stack) == 0, true
}

// queueOwn queues the small files of directory d itself, once. It
// returns false once the budget has run out or the mount is stopping.
func (pf *prefetcher) queueOwn(d castore.Digest) bool {
	pf.mu.Lock()
	did := pf.own[d] || pf.complete[d]
	pf.own[d] = true
	pf.mu.Unlock()
	if did {
		return !pf.stopped()
	}
	dir, ok := pf.fetchDir(d)
	if !ok {
		return !pf.stopped()
	}
	_, more := pf.queueFiles(dir, true)
	return more
}

// stopped reports whether the mount is stopping or the budget has run
// out.
func (pf *prefetcher) stopped() bool {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	return pf.closed || pf.full
}

// walkTree queues the small files of the whole tree, breadth first.
func (pf *prefetcher) walkTree(roots []castore.Node) {
	var level []castore.Digest
	for _, n := range roots {
		if n.Type == castore.NodeDirectory {
			level = append(level, n.Digest)
		}
	}
	walked := map[castore.Digest]bool{}
	for len(level) > 0 {
		var next []castore.Digest
		for _, d := range level {
			if walked[d] {
				continue
			}
			walked[d] = true
			dir, ok := pf.fetchDir(d)
			if !ok {
				if pf.stopped() {
					return
				}
				continue
			}
			if _, more := pf.queueFiles(dir, false); !more {
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

// fetchDir fetches directory d for a walk, unless the mount is stopping.
func (pf *prefetcher) fetchDir(d castore.Digest) (*castore.Directory, bool) {
	if pf.stopped() {
		return nil, false
	}
	dir, err := pf.f.dirs.Get(pf.f.ctx, d)
	if err != nil {
		if pf.f.ctx.Err() == nil {
			pf.f.log.Warn("prefetch: get directory", "directory", d.String(), "err", err)
		}
		return nil, false
	}
	return dir, true
}

// queueFiles queues dir's small files; counted, if they are to be kept
// ahead of the reads (dir mode). more is false once the budget has run
// out or the mount is stopping.
func (pf *prefetcher) queueFiles(dir *castore.Directory, counted bool) (n int, more bool) {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	for _, e := range dir.Entries() {
		ok, more := pf.queueLocked(e.Node, counted)
		if !more {
			return n, false
		}
		if ok {
			n++
		}
	}
	if n > 0 {
		pf.cond.Broadcast()
	}
	return n, true
}

// queueLocked queues fn's blob if it is a small file not queued before
// (ok). more is false once the budget has run out or the mount is
// stopping. Caller holds mu.
func (pf *prefetcher) queueLocked(fn castore.Node, counted bool) (ok, more bool) {
	if pf.closed || pf.full {
		return false, false
	}
	if fn.Type != castore.NodeFile || fn.Size == 0 || fn.Size > uint64(pf.f.o.PrefetchMaxFile) || pf.seen[fn.Digest] {
		return false, true
	}
	if int64(fn.Size) > pf.budget {
		pf.full = true
		pf.f.log.Info("prefetch stopped: it fetched as much as its bound allows", "bound", pf.f.o.PrefetchBytes)
		pf.cond.Broadcast()
		return false, false
	}
	pf.budget -= int64(fn.Size)
	pf.seen[fn.Digest] = true
	if counted {
		pf.unread[fn.Digest] = fn.Size
		pf.unreadBytes += fn.Size
	}
	pf.queue = append(pf.queue, castore.ChunkMeta{Digest: fn.Digest, Size: fn.Size})
	return true, true
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
		if err == nil {
			pf.f.push.fetched(group)
		}
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
