package grpcapi_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore/memstore"
)

func TestBearerToken(t *testing.T) {
	for in, want := range map[string]string{"Bearer t1": "t1", "bearer t2": "t2", "BEARER  t3 ": "t3", "Basic dXNlcjpw": "", "Bearer": "", "Bearert4": "", "Bearer  ": ""} {
		if got, ok := grpcapi.BearerToken(in); got != want || ok != (want != "") {
			t.Errorf("BearerToken(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// Issue 19, case 6: the Bearer scheme in any case is accepted; refused
// tokens, PERMISSION_DENIED and DATA_LOSS are logged at warning with the
// method and peer, and the token never is.
func TestAccessLogs(t *testing.T) {
	tokens, err := grpcapi.LoadTokens(writeTokens(t, grpcapi.HashToken("reader-secret")+" read"))
	must(t, err)
	var logs testenv.SyncBuffer
	access := &grpcapi.Access{Tokens: tokens, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	objects := memstore.New()
	blobs, err := chunkstore.NewChunked(objects, chunkstore.ChunkedOptions{})
	must(t, err)
	damaged := []byte("a blob whose chunk goes bad")
	w := blobs.Create(context.Background())
	w.Write(damaged)
	dd, err := w.Close()
	must(t, err)
	enc, err := chunkfmt.NewEncoder()
	must(t, err)
	must(t, objects.Put(context.Background(), chunkfmt.ChunkKey(dd), strings.NewReader(string(enc.Encode([]byte("other bytes"))))))

	l := listenTCP(t)
	s := grpc.NewServer(access.Interceptors()...)
	grpcapi.Register(s, blobs, dirstore.NewMemory())
	go s.Serve(l)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	must(t, err)
	defer conn.Close()
	bc := pb.NewBlobServiceClient(conn)
	d := castore.Sum([]byte("x"))
	call := func(auth string) error {
		ctx := ctxT(t)
		if auth != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", auth)
		}
		_, err := bc.Stat(ctx, &pb.StatBlobRequest{Digest: d[:]})
		return err
	}
	wantCode(t, "lower-case bearer", call("bearer reader-secret"), codes.NotFound)
	wantCode(t, "upper-case bearer", call("BEARER reader-secret"), codes.NotFound)
	wantCode(t, "unknown token", call("Bearer guessed-secret"), codes.Unauthenticated)
	ctx := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer reader-secret")
	ps, err := bc.Put(ctx)
	if err == nil {
		ps.Send(&pb.BlobChunk{Data: []byte("x")})
		_, err = ps.CloseAndRecv()
	}
	wantCode(t, "a write with a read token", err, codes.PermissionDenied)
	rs, err := bc.Read(ctx, &pb.ReadBlobRequest{Digest: dd[:]})
	if err == nil {
		_, err = rs.Recv()
	}
	wantCode(t, "read of a damaged blob", err, codes.DataLoss)

	out := logs.String()
	for _, want := range []string{
		"level=WARN", "method=/tvix.castore.v1.BlobService/Stat", "code=Unauthenticated",
		"method=/tvix.castore.v1.BlobService/Put", "code=PermissionDenied",
		"method=/tvix.castore.v1.BlobService/Read", "code=DataLoss", "peer=127.0.0.1:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("a token reached the log:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d log lines, want 3 (the accepted calls and NOT_FOUND are not logged):\n%s", n, out)
	}
}
