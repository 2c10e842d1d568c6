package chunkstore

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// Far writes: a store's puts of chunks and indexes, from all its writers
// and callers together, are in flight up to a bound in count
// (ChunkedOptions.Puts) and in bytes (PutBytes), so that many at once
// hide a far object store's round trips while a frontend taking uploads
// from many clients at once holds a bounded number of requests (their
// connections, their buffers) open against it. A put answers its caller
// only once the object store has answered it: nothing is acknowledged
// before it is stored.

// Defaults of ChunkedOptions.Puts and PutBytes: at a 10 ms round trip,
// 256 puts in flight carry 25,600 puts a second, and 64 MiB of them 6.4
// GB/s, more than a frontend's cores verify.
const (
	DefaultPuts     = 256
	DefaultPutBytes = 64 << 20
)

// putLimit bounds the puts in flight.
type putLimit struct {
	count, bytes *semaphore.Weighted
	maxBytes     int64
}

func newPutLimit(count int, bytes int64) *putLimit {
	return &putLimit{count: semaphore.NewWeighted(int64(count)), bytes: semaphore.NewWeighted(bytes), maxBytes: bytes}
}

// acquire waits for room for a put of about n bytes (at most the whole
// bound) and returns its release.
func (l *putLimit) acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 1), l.maxBytes)
	if err := l.count.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	if err := l.bytes.Acquire(ctx, n); err != nil {
		l.count.Release(1)
		return nil, err
	}
	return func() { l.bytes.Release(n); l.count.Release(1) }, nil
}
