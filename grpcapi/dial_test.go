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
		// Lists of frontends.
		{"grpc+http://127.0.0.1:1,,127.0.0.2:1", "empty host"},
		{"grpc+http://127.0.0.1:1,", "empty host"},
		{"grpc+http://,127.0.0.1:1", "empty host"},
		{"grpc+http://127.0.0.1:1,127.0.0.1:1", "named twice"},
		{"grpc+http://127.0.0.1:1,127.0.0.2", `host "127.0.0.2": the port is missing`},
		{"grpc+http://127.0.0.1,127.0.0.2:1", "port"},
		{"grpc+http://127.0.0.1:1,:2", "host is missing"},
		{"grpc+http://127.0.0.1:1,[::1", "grpc address"},
		{"grpc+http://127.0.0.1:1,127.0.0.2:x", "127.0.0.2:x"},
		{"grpc+http://127.0.0.1:1,127.0.0.2:1/p", "path"},
		{"grpc+http://127.0.0.1:1,127.0.0.2:1?bogus=1", `unknown option "bogus"`},
		{"grpc+http://127.0.0.1:1,user:secret@127.0.0.2:1", "comma in the user info"},
		{"grpc+unix://a,b/s.sock", "only a grpc+http(s) address"},
		{"grpc+http://" + strings.Repeat("127.0.0.1:1,", 300) + "127.0.0.1:2", "at most 256"},
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

// A token goes only where every frontend of a list is local (or over
// TLS); errors name the whole list, never a token.
func TestDialListTokens(t *testing.T) {
	t.Setenv("CASTORE_TOKEN", "s3cret-token")
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"grpc+http://127.0.0.1:1,127.0.0.2:1,[::1]:1,localhost:1", true},
		{"grpc+http://127.0.0.1:1,10.0.0.1:1", false},
		{"grpc+http://example.com:1,127.0.0.1:1", false},
		{"grpc+https://example.com:1,10.0.0.1:1", true},
	} {
		conn, err := grpcapi.Dial(context.Background(), tc.addr)
		if err == nil {
			conn.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("Dial(%q) = %v, want ok %v", tc.addr, err, tc.ok)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), strings.TrimPrefix(tc.addr, "grpc+http://"))) {
			t.Errorf("Dial(%q): %v: want the list named and no token", tc.addr, err)
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
