package grpcapi

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The reads whose stream breaks after it began.
//
// gRPC's retry policy (balance.go) retries a read until its response
// begins (the server's headers arrive); after that the call is
// committed, and a stream that breaks (its frontend killed, its
// connection lost) ends in UNAVAILABLE. A client read that gathers the
// whole response before handing anything out (a chunk, a blob, a
// directory, a batch's remaining chunks, a closure's remaining
// directories) then starts the call again, on another frontend if there
// is one: at most readRestarts times, waiting as gRPC's policy does.
// Writes are never restarted.

// readRestarts bounds the restarts of one read.
const readRestarts = 3

// restartRead reports whether a read that ended in err on stream should
// be started again, its attempt-th restart: the stream broke with
// UNAVAILABLE after its response had begun, and fewer than readRestarts
// restarts were made. It waits before answering yes (0.1 s, 0.2 s, 0.4 s,
// each ±20%), and says no if ctx ends meanwhile.
func restartRead(ctx context.Context, stream grpc.ClientStream, err error, attempt int) bool {
	if attempt >= readRestarts || status.Code(err) != codes.Unavailable || stream == nil || !responseBegan(stream) {
		return false
	}
	d := time.Duration(float64(100*time.Millisecond<<attempt) * (0.8 + 0.4*rand.Float64()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// responseBegan reports whether a stream that ended had received its
// response headers: gRPC retried it (by its policy) only until then.
func responseBegan(stream grpc.ClientStream) bool {
	md, err := stream.Header()
	return err == nil && md != nil
}
