package grpcapi_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/grpcapi"
)

// serve runs a real gRPC server with the given services on l until the
// test ends.
func serve(t testing.TB, l net.Listener, blobs castore.BlobService, dirs castore.DirectoryService) *grpc.Server {
	t.Helper()
	s := grpc.NewServer(grpcapi.ServerOptions()...)
	grpcapi.Register(s, blobs, dirs)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return s
}

// dial connects to addr eagerly and closes the connection when the test
// ends.
func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpcapi.Dial(ctx, addr+"?wait-connect=1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// noRetry is for tests of the status codes a server answers with: a
// client's retries of UNAVAILABLE (balance.go) only make them slower.
var noRetry = grpc.WithDisableRetry()

func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
