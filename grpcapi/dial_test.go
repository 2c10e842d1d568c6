package grpcapi_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore/grpcapi"
)

func TestDialRejectsBadAddresses(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"grpc+http://127.0.0.1:8000/some/path", "path"},
		{"grpc+https://example.com:443/x", "path"},
		{"grpc+http://127.0.0.1", "port"},
		{"grpc+http://", "host"},
		{"grpc+unix://host/sock", "no host"},
		{"grpc+unix://", "socket path"},
		{"http://127.0.0.1:8000", "unknown scheme"},
		{"127.0.0.1:8000", "unknown scheme"},
		{"grpc+http://127.0.0.1:8000?wait-connect=maybe", "wait-connect"},
		{"grpc+http://127.0.0.1:8000?bogus=1", `unknown option "bogus"`},
		{"grpc+https://127.0.0.1:8000?cert=/x", "together"},
		{"grpc+https://127.0.0.1:8000?ca=/does/not/exist", "ca"},
		{"grpc+http://user:secret@127.0.0.1:8000/p", "path"},
		{"grpc+http://[::1", "grpc address"},
	} {
		_, err := grpcapi.Dial(context.Background(), tc.addr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial(%q) = %v, want an error mentioning %q", tc.addr, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Dial(%q) leaks the password: %v", tc.addr, err)
		}
	}
}

func TestDialWaitConnect(t *testing.T) {
	// Nothing listens on this socket: wait-connect fails within the deadline.
	sock := filepath.Join(t.TempDir(), "none.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := grpcapi.Dial(ctx, "grpc+unix://"+sock+"?wait-connect=1"); err == nil {
		t.Fatal("wait-connect to a missing socket succeeded")
	}
	// Lazily, it succeeds (and fails on first use).
	conn, err := grpcapi.Dial(context.Background(), "grpc+unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	// And eagerly against a real listener.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	serve(t, l, nil, nil)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	conn, err = grpcapi.Dial(ctx2, "grpc+http://"+l.Addr().String()+"?wait-connect=1")
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}
