package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
)

// Options tune an import.
type Options struct {
	// Concurrency is how many files are uploaded at once. The default for
	// an import is 8 x GOMAXPROCS, at least 32: most files are small and
	// spend their upload waiting on the store (a round trip, or a durable
	// write's group commit), so many in flight hide that wait, while the
	// memory budget bounds what large ones hold. For a copy or an export
	// it is 4 x GOMAXPROCS, at least 8.
	Concurrency int
	// MemoryBudget bounds the bytes of small files an archive import holds
	// while they upload, and, in a directory import, the files streaming
	// at once, each reckoned at its size up to 4 MiB (default 64 MiB).
	MemoryBudget int64
	// SkipSpecial skips sockets, devices and fifos instead of failing.
	SkipSpecial bool
	// Wrap makes an archive's top-level entries the children of a root
	// directory, instead of requiring exactly one top-level directory.
	Wrap bool
	// Progress, if set, is updated as files are stored.
	Progress *Progress
	// SkipKnown hashes each file first (from disk, or from an archive up
	// to the bound it holds in memory) and sends only those the blob
	// service lacks. Worth it across a network: a second import of a tree
	// sends only what changed. A local store dedups chunks anyway; there,
	// reading and hashing every new file twice cost a first import of
	// GOROOT on tmpfs about a fifth more CPU.
	SkipKnown bool
	// FileCache, if set, remembers the digests of files by how they stat:
	// a directory import reads only the files whose stat changed since the
	// cache recorded them (and those the blob service lacks), and records
	// what it read. See FileCache.
	FileCache FileCache
}

// FileCache maps a file, by its path and what lstat says of it, to the
// digest of its contents, so that a re-import does not read unchanged
// files. A hit is used only if the blob service still has the blob.
// Lookup and Record are called concurrently.
type FileCache interface {
	// Lookup returns the digest recorded for the file at path if fi (an
	// lstat of it) still matches what was recorded.
	Lookup(path string, fi fs.FileInfo) (castore.Digest, bool)
	// Record notes that the file at path, as fi (an lstat taken before it
	// was read) describes it, had contents hashing to d. An implementation
	// must not keep an entry a later change could leave matching (a file
	// changed within the file system's timestamp granularity of being
	// read).
	Record(path string, fi fs.FileInfo, d castore.Digest)
}

func (o *Options) concurrency() int {
	if o.Concurrency > 0 {
		return o.Concurrency
	}
	return max(8, 4*runtime.GOMAXPROCS(0))
}

// importConcurrency is how many files an import uploads at once.
func (o *Options) importConcurrency() int {
	if o.Concurrency > 0 {
		return o.Concurrency
	}
	return max(32, 8*runtime.GOMAXPROCS(0))
}

// askConcurrency is how many files an import with SkipKnown has in
// flight against a store that answers in batches (castore.MissingFinder):
// most wait for the answer, which comes for all of them on a round trip,
// one call in flight at a time, so this many files a round trip at most
// (maxAsk). Each waiting file holds a goroutine and an open file (Go
// raises the soft limit on open files to the hard one). Re-importing
// unchanged GOROOT (15,036 files) over a 10 ms, 50 MB/s link: 0.76 s with
// 1024 against 1.70-1.78 s with 256 (three pairs); a first import of
// GOROOT/src: 2.77 and 4.29 s against 3.42 and 3.42 s (noisy), peak RSS
// 175 against 143 MB.
const askConcurrency = maxAsk

// streamHold is what a file streaming into a BlobService is reckoned to
// hold (a chunker's buffer and the chunks in flight) against the memory
// budget; a smaller file, its size.
const streamHold = 4 << 20

func (o *Options) memoryBudget() int64 {
	if o.MemoryBudget > 0 {
		return o.MemoryBudget
	}
	return 64 << 20
}

// uploader stores blobs with bounded concurrency and collects the first
// error.
type uploader struct {
	ctx    context.Context // ends with the uploads
	parent context.Context // the import's
	syncer castore.Syncer  // nil: the blob service is durable per write
	blobs  castore.BlobService
	g      *errgroup.Group
	prog   *Progress

	skipSpecial bool
	skipKnown   bool
	asks        *hasBatch // nil: ask Has of each blob
	links       []link    // hard links, resolved after the uploads

	mu    sync.Mutex
	cond  *sync.Cond
	avail int64 // bytes of the memory budget not held
	total int64
}

func newUploader(ctx context.Context, blobs castore.BlobService, o *Options) *uploader {
	syncer, _ := blobs.(castore.Syncer)
	if syncer != nil {
		// Nothing is acknowledged before the import's root: its blobs are
		// made durable together, by one Sync before the directories.
		ctx = castore.DeferSync(ctx)
	}
	parent := ctx
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(o.importConcurrency())
	u := &uploader{ctx: ctx, parent: parent, syncer: syncer, blobs: blobs, g: g, prog: o.Progress, skipSpecial: o.SkipSpecial, skipKnown: o.SkipKnown, avail: o.memoryBudget(), total: o.memoryBudget()}
	if _, ok := blobs.(castore.MissingFinder); ok && o.SkipKnown {
		// Asked in batches, a file waiting for its answer costs a
		// goroutine and an open file: many more may wait than upload.
		u.asks = newHasBatch(ctx, blobs)
		if o.Concurrency <= 0 {
			g.SetLimit(max(askConcurrency, o.importConcurrency()))
		}
	}
	u.cond = sync.NewCond(&u.mu)
	return u
}

// upload stores the bytes r yields, in the calling goroutine, and checks
// the length.
func (u *uploader) upload(what string, r io.Reader, size int64) (castore.Digest, error) {
	return u.write(create(u.ctx, u.blobs), what, r, size)
}

// write is upload into w.
func (u *uploader) write(w castore.BlobWriter, what string, r io.Reader, size int64) (castore.Digest, error) {
	n, err := io.Copy(w, r)
	if err != nil {
		return castore.Digest{}, fmt.Errorf("%s: %w", what, err)
	}
	if n != size {
		return castore.Digest{}, fmt.Errorf("%s: read %d bytes, expected %d (did it change while being imported?)", what, n, size)
	}
	d, err := w.Close()
	if err != nil {
		return castore.Digest{}, fmt.Errorf("%s: %w", what, err)
	}
	u.prog.add(1, size)
	return d, nil
}

// Writes that fail with castore.ErrUnavailable (the frontend taking them
// went away, or its store failed for now) are made again from the
// import's own data, a file read again from its start or bytes held:
// at most putRetries times, putRetryWait, then twice that, and so on,
// apart. Every other failure stops the import. (A large file of a tar
// archive is read once from the stream: its failure stops the import
// too; a small one is held, and sent again.)
const putRetries = 3

var putRetryWait = 200 * time.Millisecond

// retryPut runs put until it succeeds, fails with anything but
// castore.ErrUnavailable, or putRetries more tries failed.
func retryPut[T any](ctx context.Context, put func() (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := put()
		if err == nil || attempt == putRetries || !errors.Is(err, castore.ErrUnavailable) {
			return v, err
		}
		t := time.NewTimer(putRetryWait << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
	}
}

// cutHereMin is the size from which a file goes straight to a store that
// takes blobs cut here (castore.ChunkUploader), with skipKnown too: its
// writer asks about each chunk, in batches, and about the blob before
// recording it, so only the smaller files are hashed first, to be asked
// about many at once.
const cutHereMin = 8 << 20

// uploadFile stores the file at path, of size bytes. With skipKnown it
// hashes the file first and asks the store: a blob the store has is not
// sent again. A new file is read twice then (the second time from the
// page cache, usually). A file of cutHereMin or more, to a store that
// takes blobs cut here, is not hashed first (see cutHereMin). A write
// that fails with castore.ErrUnavailable reads the file again
// (retryPut).
func (u *uploader) uploadFile(path string, size int64) (castore.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return castore.Digest{}, err
	}
	defer f.Close()
	again := func() (castore.Digest, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return castore.Digest{}, fmt.Errorf("%s: %w", path, err)
		}
		return u.upload(path, plainReader{f}, size)
	}
	if !u.skipKnown {
		return retryPut(u.ctx, again)
	}
	if size >= cutHereMin {
		if w, err := castore.CreateChunked(u.ctx, u.blobs); err == nil {
			// Cut here, the writer sends only the chunks the store lacks,
			// and records no blob the store has: hashing the file first
			// would only read it once more.
			first := true
			return retryPut(u.ctx, func() (castore.Digest, error) {
				if first {
					first = false
					return u.write(w, path, plainReader{f}, size)
				}
				return again()
			})
		}
	}
	h := castore.NewHasher()
	n, err := plainReader{f}.WriteTo(h)
	if err != nil {
		return castore.Digest{}, fmt.Errorf("%s: %w", path, err)
	}
	if n != size {
		return castore.Digest{}, fmt.Errorf("%s: read %d bytes, expected %d (did it change while being imported?)", path, n, size)
	}
	d := h.Sum()
	if ok, err := u.known(path, d, size); ok || err != nil {
		return d, err
	}
	got, err := retryPut(u.ctx, again)
	if err == nil && got != d {
		return castore.Digest{}, fmt.Errorf("%s: stored as %s, but hashed as %s a moment before (did it change while being imported?)", path, got, d)
	}
	return got, err
}

// uploadBytes stores b; with skipKnown, unless the store has it already.
func (u *uploader) uploadBytes(what string, b []byte) (castore.Digest, error) {
	again := func() (castore.Digest, error) { return u.upload(what, bytes.NewReader(b), int64(len(b))) }
	if !u.skipKnown {
		return retryPut(u.ctx, again)
	}
	d := castore.Sum(b)
	if ok, err := u.known(what, d, int64(len(b))); ok || err != nil {
		return d, err
	}
	got, err := retryPut(u.ctx, again)
	if err == nil && got != d {
		return castore.Digest{}, fmt.Errorf("%s: the store says %s, the bytes hash to %s: %w", what, got, d, castore.ErrCorrupt)
	}
	return got, err
}

// known reports whether the store has blob d already, counting it as
// stored if so.
func (u *uploader) known(what string, d castore.Digest, size int64) (bool, error) {
	var ok bool
	var err error
	if u.asks != nil {
		ok, err = u.asks.has(d)
	} else {
		ok, err = u.blobs.Has(u.ctx, d)
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	if ok {
		u.prog.add(1, size)
	}
	return ok, nil
}

// acquire reserves n bytes of the memory budget, waiting for uploads in
// flight to release some, and returns what it reserved (a request larger
// than the whole budget takes all of it).
func (u *uploader) acquire(n int64) int64 {
	n = min(n, u.total)
	u.mu.Lock()
	defer u.mu.Unlock()
	for u.avail < n {
		u.cond.Wait()
	}
	u.avail -= n
	return n
}

func (u *uploader) release(n int64) {
	u.mu.Lock()
	u.avail += n
	u.mu.Unlock()
	u.cond.Broadcast()
}

// wait waits for every upload, then resolves hard links, and returns the
// first error.
func (u *uploader) wait() error {
	if err := u.g.Wait(); err != nil {
		return err
	}
	for _, l := range u.links {
		l.from.node = l.to.node
	}
	return u.sync()
}

// sync makes the uploads durable where the blob service deferred that
// (castore.Syncer): before anything names them.
func (u *uploader) sync() error {
	if u.syncer == nil {
		return nil
	}
	if err := u.syncer.Sync(u.parent); err != nil {
		return fmt.Errorf("make the imported blobs durable: %w", err)
	}
	return nil
}
