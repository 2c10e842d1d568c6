package chunkstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// Create starts a blob. Bytes are cut, hashed, compressed and uploaded as
// they are written; Close waits for every upload, then writes the index.
// Cancelling ctx abandons the blob: no index is written.
func (c *Chunked) Create(ctx context.Context) castore.BlobWriter {
	return &chunkedWriter{c: c, ctx: ctx, h: getHasher()}
}

type chunkedWriter struct {
	c   *Chunked
	ctx context.Context
	h   *castore.Hasher
	n   int64

	// small holds the bytes written so far while they are no more than
	// FastCDC's minimum chunk size: a blob that small is one chunk
	// whatever the cut points, so it is stored on Close without starting
	// the chunker (a goroutine, a pipe and a 2 x max-chunk buffer). It
	// is one of the store's smallBufs, taken by the first Write.
	small []byte

	started bool
	closed  bool
	pw      *io.PipeWriter
	done    chan struct{}
	stop    func() bool // stops the ctx watcher
	g       *errgroup.Group
	gctx    context.Context
	chunks  []castore.ChunkMeta // written by the chunker goroutine
	cutErr  error

	errMu    sync.Mutex
	firstErr error
}

func (w *chunkedWriter) fail(err error) {
	w.errMu.Lock()
	if w.firstErr == nil {
		w.firstErr = err
	}
	w.errMu.Unlock()
}

func (w *chunkedWriter) err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.firstErr
}

func (w *chunkedWriter) start() {
	w.started = true
	pr, pw := io.Pipe()
	w.pw = pw
	w.done = make(chan struct{})
	w.g, w.gctx = errgroup.WithContext(w.ctx)
	w.g.SetLimit(w.c.o.Uploads)
	w.stop = context.AfterFunc(w.gctx, func() { pr.CloseWithError(context.Cause(w.gctx)) })
	avg := w.c.o.AvgChunkSize
	go func() {
		defer close(w.done)
		ch, err := chunkfmt.NewCutter(pr, avg)
		if err != nil {
			w.cutErr = err
			pr.CloseWithError(err)
			return
		}
		for {
			chunk, err := ch.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				w.cutErr = err
				pr.CloseWithError(err)
				return
			}
			// The cutter reuses its buffer: the chunk is copied into one
			// of the store's, given back once it is stored (compressed,
			// or known stored already).
			data := append(w.c.chunkBufs.get(), chunk...)
			d := castore.Sum(data)
			w.chunks = append(w.chunks, castore.ChunkMeta{Digest: d, Size: uint64(len(data))})
			w.g.Go(func() error {
				err := w.c.putChunk(w.gctx, d, data)
				w.c.chunkBufs.put(data)
				if err != nil {
					w.fail(err)
					return err
				}
				return nil
			})
		}
	}()
}

// putChunk stores a chunk unless it is known to be stored. The chunk is
// compressed only when the store reads it: stores that look before they
// read (file, memory) do not, when it is there already, as on a second
// import of the same tree.
func (c *Chunked) putChunk(ctx context.Context, d castore.Digest, data []byte) error {
	return c.storeChunk(ctx, d, int64(len(data)), func() io.Reader { return &lazyChunk{enc: c.enc, data: data} })
}

// storeChunk stores the chunk object body reads as, unless chunk d is
// known to be stored (and fresh), and counts the write. size is the
// chunk's length, or -1 if not known. A chunk found stored is freshened
// (freshen.go); one deleted between the put and that is put again.
func (c *Chunked) storeChunk(ctx context.Context, d castore.Digest, size int64, body func() io.Reader) error {
	if c.usable(d) {
		c.m.chunkWrite(ctx, false)
		return nil
	}
	key := c.o.ChunkLayout.ChunkKey(d)
	for attempt := 0; ; attempt++ {
		began := time.Now()
		created, err := c.put(ctx, key, body(), cmp.Or(max(size, 0), 2*int64(c.o.AvgChunkSize)))
		if err != nil {
			return fmt.Errorf("store chunk %s: %w", d, err)
		}
		c.m.chunkWrite(ctx, created)
		if created {
			c.created(d, size, began)
			return nil
		}
		err = c.freshenKey(ctx, key, d, size)
		if errors.Is(err, objectstore.ErrNotFound) && attempt == 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("store chunk %s: %w", d, err)
		}
		return nil
	}
}

// put puts body, of about n bytes, at key unless an object is there,
// within the bound of puts in flight (putlimit.go).
func (c *Chunked) put(ctx context.Context, key string, body io.Reader, n int64) (created bool, err error) {
	release, err := c.puts.acquire(ctx, n)
	if err != nil {
		return false, err
	}
	defer release()
	return c.store.PutIfAbsent(ctx, key, body)
}

// storeIndex stores blob d's index unless it is there, and freshens it if
// it is (putting it again if it went meanwhile).
func (c *Chunked) storeIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta, size int64) error {
	key := chunkfmt.IndexKey(d)
	for attempt := 0; ; attempt++ {
		began := time.Now()
		index := chunkfmt.EncodeIndex(chunks)
		created, err := c.put(ctx, key, bytes.NewReader(index), int64(len(index)))
		if err != nil {
			return fmt.Errorf("store index of blob %s: %w", d, err)
		}
		if created {
			c.created(d, size, began)
			return nil
		}
		if c.usable(d) {
			return nil // written or freshened here lately
		}
		err = c.freshenKey(ctx, key, d, size)
		if errors.Is(err, objectstore.ErrNotFound) && attempt == 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("store index of blob %s: %w", d, err)
		}
		return nil
	}
}

func (w *chunkedWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("write to a closed blob writer")
	}
	if err := w.err(); err != nil {
		return 0, err
	}
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.started {
		if len(w.small)+len(p) <= w.c.o.AvgChunkSize/2 {
			if w.small == nil {
				w.small = w.c.smallBufs.get()
			}
			w.small = append(w.small, p...)
			w.h.Write(p)
			w.n += int64(len(p))
			return len(p), nil
		}
		w.start()
		if len(w.small) > 0 {
			if _, err := w.pw.Write(w.small); err != nil {
				if e := w.err(); e != nil {
					err = e
				}
				return 0, fmt.Errorf("write blob: %w", err)
			}
		}
		// The pipe's reader has copied it: it goes back.
		w.c.smallBufs.put(w.small)
		w.small = nil
	}
	n, err := w.pw.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		if e := w.err(); e != nil {
			err = e
		}
		return n, fmt.Errorf("write blob: %w", err)
	}
	return n, nil
}

func (w *chunkedWriter) Close() (castore.Digest, error) {
	if w.closed {
		return castore.Digest{}, errors.New("blob writer closed twice")
	}
	w.closed = true
	defer w.release()
	if !w.started {
		if err := w.ctx.Err(); err != nil {
			return castore.Digest{}, err
		}
		if len(w.small) == 0 {
			return castore.EmptyDigest, nil
		}
		// One chunk: its digest is the blob's, and it has no index.
		d := w.h.Sum()
		if err := w.c.putChunk(w.ctx, d, w.small); err != nil {
			return castore.Digest{}, err
		}
		w.c.known.addSize(d, w.n)
		return d, nil
	}
	w.pw.Close()
	<-w.done
	gerr := w.g.Wait()
	w.stop()
	if err := w.err(); err != nil {
		return castore.Digest{}, err
	}
	if gerr != nil {
		return castore.Digest{}, gerr
	}
	if w.cutErr != nil {
		return castore.Digest{}, fmt.Errorf("chunk blob: %w", w.cutErr)
	}
	if err := w.ctx.Err(); err != nil {
		return castore.Digest{}, err
	}
	d := w.h.Sum()
	if len(w.chunks) > 1 {
		if err := w.c.storeIndex(w.ctx, d, w.chunks, w.n); err != nil {
			return castore.Digest{}, err
		}
	}
	w.c.known.addSize(d, w.n)
	return d, nil
}

// release gives the writer's hasher and small buffer back, once Close
// has stored (or given up on) what it held.
func (w *chunkedWriter) release() {
	putHasher(w.h)
	w.h = nil
	w.c.smallBufs.put(w.small)
	w.small = nil
}

// PutIndex records blob d as the concatenation of chunks, all of which
// must be stored already (each is checked, at no cost for chunks this
// store wrote or read). It lets a cache make a blob whole without writing
// its bytes again.
func (c *Chunked) PutIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta) error {
	if len(chunks) < 2 {
		return fmt.Errorf("index of blob %s: %d chunks; a blob of one chunk has no index", d, len(chunks))
	}
	for _, cm := range chunks {
		if c.usable(cm.Digest) {
			continue
		}
		if ok, err := c.headChunk(ctx, cm.Digest); err != nil || !ok {
			if err == nil {
				err = objectstore.ErrNotFound
			}
			return fmt.Errorf("index of blob %s: chunk %s: %w", d, cm.Digest, err)
		}
		c.known.add(cm.Digest)
		// The index relies on the chunk: keep it fresh.
		if err := c.freshenBlob(ctx, cm.Digest); err != nil {
			return fmt.Errorf("index of blob %s: chunk %s: %w", d, cm.Digest, err)
		}
	}
	return c.storeIndex(ctx, d, chunks, indexSize(chunks))
}
