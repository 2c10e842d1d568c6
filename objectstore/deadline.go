package objectstore

import (
	"context"
	"fmt"
	"io"
	"iter"
	"time"
)

// Deadline bounds every call on the Store it wraps: a backend that stops
// answering (a stopped server, a black-holed connection) fails the call
// with an error wrapping context.DeadlineExceeded after Timeout, instead of
// holding it, and whatever waits on it, for as long as the SDK's retries
// last. A Get's timeout covers reading its body too; a List's, each page.
type Deadline struct {
	Store
	Timeout time.Duration
	// exceeded is the cause of a call's timeout, made once (WithDeadline).
	exceeded error
	// memHeads: the store answers Head from memory (IndexedHeads), so a
	// Head cannot stall and is not bounded.
	memHeads bool
}

// WithDeadline wraps s; a timeout <= 0 returns s unchanged.
func WithDeadline(s Store, timeout time.Duration) Store {
	if timeout <= 0 {
		return s
	}
	return &Deadline{Store: s, Timeout: timeout, exceeded: exceededAfter(timeout), memHeads: HeadsIndexed(s)}
}

func exceededAfter(timeout time.Duration) error {
	return fmt.Errorf("object store call took longer than %s: %w", timeout, context.DeadlineExceeded)
}

func (d *Deadline) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	cause := d.exceeded
	if cause == nil {
		cause = exceededAfter(d.Timeout) // a Deadline not made by WithDeadline
	}
	return context.WithTimeoutCause(ctx, d.Timeout, cause)
}

// Get bounds the request and the reading of the body.
func (d *Deadline) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	ctx, cancel := d.ctx(ctx)
	r, err := d.Store.Get(ctx, key)
	if err != nil {
		cancel()
		return nil, d.cause(ctx, err)
	}
	return &deadlineReader{ReadCloser: r, ctx: ctx, cancel: cancel}, nil
}

type deadlineReader struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF && r.ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", context.Cause(r.ctx), err)
	}
	return n, err
}

func (r *deadlineReader) Close() error {
	err := r.ReadCloser.Close()
	r.cancel()
	return err
}

// cause names the timeout when it is why a call failed.
func (d *Deadline) cause(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		if c := context.Cause(ctx); c != nil && c != ctx.Err() {
			return fmt.Errorf("%w (%w)", c, err)
		}
	}
	return err
}

func (d *Deadline) Put(ctx context.Context, key string, r io.Reader) error {
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	return d.cause(ctx, d.Store.Put(ctx, key, r))
}

func (d *Deadline) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	created, err := d.Store.PutIfAbsent(ctx, key, r)
	return created, d.cause(ctx, err)
}

// Head bounds the request, except on a store that answers it from
// memory.
func (d *Deadline) Head(ctx context.Context, key string) (ObjectInfo, error) {
	if d.memHeads {
		return d.Store.Head(ctx, key)
	}
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	oi, err := d.Store.Head(ctx, key)
	return oi, d.cause(ctx, err)
}

func (d *Deadline) Delete(ctx context.Context, key string) error {
	ctx, cancel := d.ctx(ctx)
	defer cancel()
	return d.cause(ctx, d.Store.Delete(ctx, key))
}

// List fails once the backend has yielded nothing for Timeout: a listing
// that makes progress is not cut off.
func (d *Deadline) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		t := time.AfterFunc(d.Timeout, func() {
			cancel(fmt.Errorf("object store listing stalled for %s: %w", d.Timeout, context.DeadlineExceeded))
		})
		defer t.Stop()
		for oi, err := range d.Store.List(ctx, prefix) {
			t.Stop() // the caller's time is not the backend's
			if err != nil && ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
			}
			if !yield(oi, err) {
				return
			}
			t.Reset(d.Timeout)
		}
	}
}
