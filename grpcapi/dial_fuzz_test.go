package grpcapi_test

import (
	"context"
	"testing"

	"github.com/castore-go/castore/grpcapi"
)

// FuzzDial parses arbitrary addresses: it never panics, and never leaves a
// connection open on error.
//
//	go test ./grpcapi -run '^$' -fuzz FuzzDial -fuzztime 1m
func FuzzDial(f *testing.F) {
	for _, s := range []string{"grpc+http://127.0.0.1:1", "grpc+unix:///tmp/x.sock", "grpc+https://h:1?ca=/nonexistent",
		"grpc+http://[::1]:1/p", "grpc+http://h:1?wait-connect=2", "grpc+unix://h/s", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		conn, err := grpcapi.Dial(context.Background(), s)
		if err == nil {
			conn.Close()
		}
	})
}
