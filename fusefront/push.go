package fusefront

import (
	"io"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/castore-go/castore"
)

// pushWorkers is how many goroutines put file contents into the
// kernel's page cache at once.
const pushWorkers = 2

// pushSync is how many of the files a listing named are pushed before
// the next request of a process is answered (the rest by the workers):
// a process that lists a directory and then reads its files in order, as
// tar does, would otherwise ask for the first before a worker has pushed
// it.
const pushSync = 16

// pushTries is how often a push the kernel refuses because it does not
// know the inode yet (ENOENT) is tried, each after another request has
// come, before it is left to the file's reads.
const pushTries = 3

// pusher puts the contents of prefetched small files into the kernel's
// page cache (FUSE's NOTIFY_STORE) once the kernel knows their inodes (a
// listing or lookup named them) and the mount's cache holds their blobs
// (the prefetcher fetched them), so that reading them costs no request:
// a tar of a prefetched tree then waits on the mount only for its
// listings and its large files. A file the kernel reads first is not
// pushed; a push the kernel refuses is left to the file's reads. Pushed
// bytes are read through the cache like any read (each chunk verified)
// and come to exactly the file's size, or nothing is pushed.
type pusher struct {
	f *FS

	mu   sync.Mutex
	cond *sync.Cond
	// waiting: files named to the kernel whose blobs are not local yet.
	waiting map[castore.Digest][]*fileNode
	// local: blobs the prefetcher has brought (or left to their readers).
	local map[castore.Digest]bool
	// staged: files named in requests still being answered; answered:
	// named in requests answered since the last request came. The kernel
	// learns of an inode from the reply that names it, which it has read
	// by the time the process that asked sends its next request: files
	// are pushed from then on (or, if that request came from another
	// process, tried again after the next).
	staged   []*fileNode
	answered []*fileNode
	ready    []*fileNode
	closed   bool
	once     sync.Once
	wg       sync.WaitGroup

	pushed, bytes, refused atomic.Int64
}

func newPusher(f *FS) *pusher {
	p := &pusher{f: f, waiting: map[castore.Digest][]*fileNode{}, local: map[castore.Digest]bool{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(pushWorkers)
	for range pushWorkers {
		go p.worker()
	}
	return p
}

// named is told of a file the kernel is being told of, in the request
// that tells it.
func (p *pusher) named(n *fileNode) {
	if p == nil || n.node.Size == 0 || n.node.Size > uint64(p.f.o.PrefetchMaxFile) || n.inKernel.Load() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n.pushQueued || p.closed {
		return
	}
	n.pushQueued = true
	p.staged = append(p.staged, n)
}

// replied is told that a request that may have named files is being
// answered.
func (p *pusher) replied() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answered = append(p.answered, p.staged...)
	p.staged = p.staged[:0]
}

// request is told that a request came: the files named in replies
// before it can be pushed once their blobs are local. The first sync of
// them whose blobs are local are pushed before it returns: the request
// waits for them.
func (p *pusher) request(sync int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	if len(p.answered) == 0 {
		p.mu.Unlock()
		return
	}
	var now []*fileNode
	woke := false
	for _, n := range p.answered {
		switch {
		case !p.local[n.node.Digest]:
			p.waiting[n.node.Digest] = append(p.waiting[n.node.Digest], n)
		case len(now) < sync:
			now = append(now, n)
		default:
			p.ready = append(p.ready, n)
			woke = true
		}
	}
	clear(p.answered)
	p.answered = p.answered[:0]
	if woke {
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	for _, n := range now {
		p.pushOrRetry(n)
	}
}

// fetched is told that blobs are in the mount's cache (or left to their
// readers).
func (p *pusher) fetched(blobs []castore.ChunkMeta) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	woke := false
	for _, b := range blobs {
		p.local[b.Digest] = true
		if ns, ok := p.waiting[b.Digest]; ok {
			delete(p.waiting, b.Digest)
			p.ready = append(p.ready, ns...)
			woke = true
		}
	}
	if woke {
		p.cond.Broadcast()
	}
}

// close stops the workers and waits for them.
func (p *pusher) close() {
	if p == nil {
		return
	}
	p.once.Do(p.stop)
}

func (p *pusher) stop() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
	p.f.log.Info("push", "pushed_files", p.pushed.Load(), "pushed_bytes", p.bytes.Load(), "refused", p.refused.Load())
}

// next returns the next file to push, or nil once closed.
func (p *pusher) next() *fileNode {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && len(p.ready) == 0 {
		p.cond.Wait()
	}
	if p.closed {
		return nil
	}
	n := p.ready[0]
	p.ready[0] = nil
	p.ready = p.ready[1:]
	return n
}

func (p *pusher) worker() {
	defer p.wg.Done()
	for n := p.next(); n != nil; n = p.next() {
		p.pushOrRetry(n)
	}
}

// pushOrRetry pushes n, or, if the kernel does not know its inode yet,
// has it tried again after the next request (pushTries in all).
func (p *pusher) pushOrRetry(n *fileNode) {
	if p.push(n) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n.pushTries++; n.pushTries < pushTries && !p.closed {
		p.answered = append(p.answered, n)
	}
}

// push puts n's contents into the kernel's cache; false if the kernel
// does not know its inode yet.
func (p *pusher) push(n *fileNode) bool {
	if n.inKernel.Load() {
		return true
	}
	size := int(n.node.Size)
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	if cap(*bp) < size {
		b := make([]byte, size)
		bp = &b
	}
	buf := (*bp)[:size]
	r, err := castore.OpenSized(p.f.ctx, p.f.blobs, n.node.Digest, n.node.Size)
	if err != nil {
		p.f.log.Debug("fusefront: push: open blob", "blob", n.node.Digest.String(), "err", err)
		return true
	}
	got, err := r.ReadAt(buf, 0)
	r.Close()
	if err == io.EOF && got == size {
		err = nil
	}
	if err != nil || got != size {
		p.f.log.Debug("fusefront: push: read blob", "blob", n.node.Digest.String(), "got", got, "err", err)
		return true
	}
	if n.inKernel.Load() {
		return true
	}
	switch errno := n.EmbeddedInode().WriteCache(0, buf); errno {
	case 0:
		n.inKernel.Store(true)
		p.pushed.Add(1)
		p.bytes.Add(int64(size))
		p.f.pf.fileRead(n.node.Digest)
		return true
	case syscall.ENOENT:
		p.refused.Add(1)
		return false
	default:
		p.f.log.Debug("fusefront: push: the kernel refused", "blob", n.node.Digest.String(), "errno", errno)
		return true
	}
}
