package grpcapi

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/castore-go/castore"
)

// The end of an upload stream (BlobService.Put, DirectoryService.Put),
// for both clients' writers.

// uploadBroken is the error of a Send that failed: the server ended the
// stream, and its reason comes with CloseAndRecv.
func uploadBroken[Req, Res any](what string, stream grpc.ClientStreamingClient[Req, Res]) error {
	_, err := stream.CloseAndRecv()
	if err = fromStatus(what, err); err == nil {
		err = fmt.Errorf("%s: server closed the stream early", what)
	}
	return err
}

// closeUpload half-closes the stream and returns the digest the server
// answers with (digest picks it from the response); the caller checks it
// against its own. A stream whose ctx is done is not half-closed: gRPC
// notices a cancelled context asynchronously, so a half-close could
// still reach the server and commit what was sent.
func closeUpload[Req, Res any](ctx context.Context, what string, stream grpc.ClientStreamingClient[Req, Res], digest func(*Res) []byte) (castore.Digest, error) {
	if err := ctx.Err(); err != nil {
		return castore.Digest{}, fmt.Errorf("%s: %w", what, err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return castore.Digest{}, fromStatus(what, err)
	}
	d, err := castore.DigestFromBytes(digest(resp))
	if err != nil {
		return castore.Digest{}, fmt.Errorf("%s: server answered: %w", what, err)
	}
	return d, nil
}
