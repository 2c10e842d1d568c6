package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/objectstore/memstore"
)

// `castore serve` in front of another castore server passes chunks on as
// the far server stores them: a client reading a blob through the front
// makes the far server serve every chunk through castore.v1.ChunkService
// and none through BlobService.Read.
func TestServeProxyPassesChunksCompressed(t *testing.T) {
	far, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{AvgChunkSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string]int{} // by the far server
	sent := map[string]int{}  // by the client, to the front
	srv := grpc.NewServer(append(grpcapi.ServerOptions(), grpc.StreamInterceptor(
		func(s any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			mu.Lock()
			calls[info.FullMethod]++
			mu.Unlock()
			return h(s, ss)
		}))...)
	grpcapi.Register(srv, far, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Stop()

	c := newCLI(t)
	front := c.serve("--blob-service-addr", "grpc+http://"+l.Addr().String(), "--directory-service-addr", "memory://")
	data := blobtest.Data(512<<10, 4)
	d := blobtest.Put(t, far, data)
	chunks, err := far.Chunks(t.Context(), d)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("%d chunks, %v", len(chunks), err)
	}
	conn, err := grpc.NewClient(strings.TrimPrefix(front, "grpc+http://"), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			mu.Lock()
			sent[method]++
			mu.Unlock()
			return streamer(ctx, desc, cc, method, opts...)
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !blobtest.ReadAndCheck(t, grpcapi.NewBlobClient(conn), d, data) {
		t.FailNow()
	}
	mu.Lock()
	defer mu.Unlock()
	for who, m := range map[string]map[string]int{"the client sent the front": sent, "the far server served": calls} {
		if m["/castore.v1.ChunkService/ReadCompressed"] != len(chunks) || m["/tvix.castore.v1.BlobService/Read"] != 0 {
			t.Errorf("%s %v for a blob of %d chunks; want every chunk compressed", who, m, len(chunks))
		}
	}
}
