package chunkstore

import (
	"context"
	"time"
)

// sharedFetchTimeout bounds a fetch from far that several readers share:
// it does not stop when the reader that started it gives up.
const sharedFetchTimeout = 5 * time.Minute

// shared runs fetch once for all concurrent callers with the same key. The
// fetch runs on a context of its own (the first caller's values, not its
// cancellation), so a caller that gives up neither fails the others nor
// wastes the work; each caller waits only as long as its own context lets
// it.
func (nf *NearFar) shared(ctx context.Context, key string, fetch func(context.Context) (any, error)) (any, error) {
	ch := nf.flight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedFetchTimeout)
		defer cancel()
		return fetch(fctx)
	})
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}
