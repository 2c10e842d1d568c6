package closure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/castore-go/castore"
)

// RequireBlobs returns dirs as a service that accepts a directory only
// when every file it names is in blobs, with the size its node gives: the
// service a server puts untrusted clients' directories through, so that
// no client can store a root without its data (and poison every later
// copy of the same tree, which would find the root there and stop). A
// closure that names a blob blobs lacks, or has with another size, fails
// with an error wrapping castore.ErrIncomplete that names the directory,
// the entry and the blob, and nothing of it is stored: its putter is
// abandoned, never closed. Reads, and directories stored by any other
// way (a cache filling near from far), pass unchecked.
//
// The blobs are looked up in batches while the closure streams in
// (castore.StatBlobs, where blobs can; one by one, in parallel, where it
// cannot), each once, so a closure whose blobs were just uploaded costs a
// store that remembers them nothing.
func RequireBlobs(dirs castore.DirectoryService, blobs castore.BlobService) castore.DirectoryService {
	return &requireBlobs{DirectoryService: dirs, blobs: blobs}
}

type requireBlobs struct {
	castore.DirectoryService
	blobs castore.BlobService
}

func (r *requireBlobs) Put(ctx context.Context, dir *castore.Directory) (castore.Digest, error) {
	c := newBlobCheck(ctx, r.blobs)
	if err := c.add(dir); err != nil {
		return castore.Digest{}, err
	}
	if err := c.wait(); err != nil {
		return castore.Digest{}, err
	}
	return r.DirectoryService.Put(ctx, dir)
}

func (r *requireBlobs) NewPutter(ctx context.Context) castore.DirectoryPutter {
	ctx, cancel := context.WithCancel(ctx)
	return &checkedPutter{inner: r.DirectoryService.NewPutter(ctx), cancel: cancel, check: newBlobCheck(ctx, r.blobs)}
}

// checkedPutter passes each directory to the store's putter, which
// validates the closure and holds it, and checks its blobs on the side;
// it closes the store's putter only once every blob checked out, and
// abandons it otherwise.
type checkedPutter struct {
	inner  castore.DirectoryPutter
	cancel context.CancelFunc
	check  *blobCheck
	err    error
}

func (p *checkedPutter) fail(err error) error {
	if p.err == nil {
		p.err = err
		p.cancel()
	}
	return p.err
}

func (p *checkedPutter) Put(dir *castore.Directory) error {
	if p.err != nil {
		return p.err
	}
	if err := p.check.failed(); err != nil {
		return p.fail(err)
	}
	if err := p.inner.Put(dir); err != nil {
		return p.fail(err)
	}
	if err := p.check.add(dir); err != nil {
		return p.fail(err)
	}
	return nil
}

func (p *checkedPutter) Close() (castore.Digest, error) {
	if p.err != nil {
		return castore.Digest{}, p.err
	}
	if err := p.check.wait(); err != nil {
		return castore.Digest{}, p.fail(err)
	}
	root, err := p.inner.Close()
	p.fail(errors.New("putter already closed"))
	return root, err
}

// Batches of blobs looked up at once, and how many batches are out at
// once: a closure streaming in keeps the store busy without holding more
// than this many lookups.
const (
	checkBatch    = 256
	checkInFlight = 2
	// checkOneByOne bounds the lookups of a service that cannot batch.
	checkOneByOne = 16
)

// need is one blob a closure names, and where it names it first.
type need struct {
	blob castore.ChunkMeta
	dir  castore.Digest
	name string
}

// blobCheck looks up the blobs of the directories added to it, each
// (digest, size) once, in batches in the background, and keeps the first
// failure.
type blobCheck struct {
	ctx   context.Context
	blobs castore.BlobService
	seen  map[castore.ChunkMeta]struct{}
	batch []need
	slots chan struct{}
	wg    sync.WaitGroup

	mu  sync.Mutex
	err error
}

func newBlobCheck(ctx context.Context, blobs castore.BlobService) *blobCheck {
	return &blobCheck{ctx: ctx, blobs: blobs, seen: map[castore.ChunkMeta]struct{}{}, slots: make(chan struct{}, checkInFlight)}
}

// add queues the blobs of dir's files; a file no store can hold is
// refused at once.
func (c *blobCheck) add(dir *castore.Directory) error {
	var dg castore.Digest
	for _, e := range dir.Entries() {
		if e.Node.Type != castore.NodeFile {
			continue
		}
		if e.Node.Size > castore.MaxFileSize {
			return tooLarge(dir, e)
		}
		cm := castore.ChunkMeta{Digest: e.Node.Digest, Size: e.Node.Size}
		if _, ok := c.seen[cm]; ok || cm == (castore.ChunkMeta{Digest: castore.EmptyDigest}) {
			continue
		}
		c.seen[cm] = struct{}{}
		if dg == (castore.Digest{}) {
			dg = dir.Digest()
		}
		c.batch = append(c.batch, need{cm, dg, string(e.Name)})
		if len(c.batch) >= checkBatch {
			c.flush()
		}
	}
	return nil
}

func (c *blobCheck) flush() {
	if len(c.batch) == 0 || c.failed() != nil {
		c.batch = nil
		return
	}
	batch := c.batch
	c.batch = nil
	c.slots <- struct{}{}
	c.wg.Go(func() {
		defer func() { <-c.slots }()
		if err := checkBlobs(c.ctx, c.blobs, batch); err != nil {
			c.mu.Lock()
			if c.err == nil {
				c.err = err
			}
			c.mu.Unlock()
		}
	})
}

func (c *blobCheck) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// wait checks what is left and waits for every lookup.
func (c *blobCheck) wait() error {
	c.flush()
	c.wg.Wait()
	return c.failed()
}

// checkBlobs looks up one batch and returns the error of its first blob
// that is absent or of another size.
func checkBlobs(ctx context.Context, blobs castore.BlobService, batch []need) error {
	ds := make([]castore.Digest, len(batch))
	for i, n := range batch {
		ds[i] = n.blob.Digest
	}
	sizes := make([]int64, len(batch))
	i := 0
	err := castore.StatBlobs(ctx, blobs, ds, func(d castore.Digest, size uint64, ok bool) error {
		if i >= len(batch) || d != ds[i] {
			return fmt.Errorf("stat blobs: answered %s out of turn", d)
		}
		sizes[i] = -1
		if ok {
			sizes[i] = int64(size)
		}
		i++
		return nil
	})
	if errors.Is(err, castore.ErrUnsupported) {
		err = statOneByOne(ctx, blobs, ds, sizes)
	} else if err == nil && i != len(batch) {
		err = fmt.Errorf("stat blobs: %d answers for %d blobs", i, len(batch))
	}
	if err != nil {
		return fmt.Errorf("look up the blobs of the directories: %w", err)
	}
	for i, n := range batch {
		switch {
		case sizes[i] < 0:
			return &castore.ValidationError{Name: n.name, Err: fmt.Errorf("entry of directory %s: blob %s (%d bytes) is not in the blob service: %w (upload blobs before the directories that name them)", n.dir, n.blob.Digest, n.blob.Size, castore.ErrIncomplete)}
		case uint64(sizes[i]) != n.blob.Size:
			return &castore.ValidationError{Name: n.name, Err: fmt.Errorf("entry of directory %s: gives blob %s size %d, the blob service has it with %d bytes: %w", n.dir, n.blob.Digest, n.blob.Size, sizes[i], castore.ErrIncomplete)}
		}
	}
	// The directories rely on the blobs from now on: keep them from
	// garbage collection (castore.Freshener).
	if err := castore.Freshen(ctx, blobs, ds); err != nil && !errors.Is(err, castore.ErrUnsupported) {
		if errors.Is(err, castore.ErrNotFound) {
			return fmt.Errorf("look up the blobs of the directories: %w: %w", castore.ErrIncomplete, err)
		}
		return fmt.Errorf("look up the blobs of the directories: %w", err)
	}
	return nil
}

// statOneByOne finds the sizes of blobs in a service that cannot tell
// them in a batch, checkOneByOne at a time: from the chunk list where the
// blob has one, else by opening it. sizes[i] is -1 for an absent blob.
func statOneByOne(ctx context.Context, blobs castore.BlobService, ds []castore.Digest, sizes []int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, checkOneByOne)
	var wg sync.WaitGroup
	for i, d := range ds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s, err := blobSize(ctx, blobs, d)
			if err != nil {
				cancel(err)
				return
			}
			sizes[i] = s
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// blobSize returns blob d's size in blobs, or -1 if it is not there.
func blobSize(ctx context.Context, blobs castore.BlobService, d castore.Digest) (int64, error) {
	if d == castore.EmptyDigest {
		return 0, nil
	}
	chunks, err := blobs.Chunks(ctx, d)
	if errors.Is(err, castore.ErrNotFound) {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	if len(chunks) > 0 {
		var n uint64
		for _, c := range chunks {
			n += c.Size
		}
		return int64(n), nil
	}
	r, err := blobs.Open(ctx, d)
	if errors.Is(err, castore.ErrNotFound) {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return r.Seek(0, io.SeekEnd)
}
