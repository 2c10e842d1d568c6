package grpcapi_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/castore-go/castore/grpcapi"
)

// FuzzDial parses arbitrary addresses, lists of hosts among them: it
// never panics, never leaves a connection open on error, and never shows
// a password of the user info in an error.
//
//	go test ./grpcapi -run '^$' -fuzz FuzzDial -fuzztime 1m
func FuzzDial(f *testing.F) {
	for _, s := range []string{"grpc+http://127.0.0.1:1", "grpc+unix:///tmp/x.sock", "grpc+https://h:1?ca=/nonexistent",
		"grpc+http://[::1]:1/p", "grpc+http://h:1?wait-connect=2", "grpc+unix://h/s", "x",
		"grpc+http://127.0.0.1:1,127.0.0.2:1,[::1]:1", "grpc+https://a:1,b:2?ca=/nonexistent", "grpc+http://a:1,,b:2",
		"grpc+http://u:p@a:1,b:2", "grpc+http://a:1,u@b:2", "grpc+http://a:1,a:1", "grpc+http://[::1]:1,[fe80::1%25eth0]:2/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		conn, err := grpcapi.Dial(context.Background(), s)
		if err == nil {
			conn.Close()
		}
		// With a password in the user info of an address with a scheme,
		// no error shows it.
		i := strings.Index(s, "://")
		if i < 0 || !schemeRE.MatchString(s[:i]) || strings.Contains(s, "hunter2") {
			return
		}
		conn, err = grpcapi.Dial(context.Background(), s[:i+3]+"u:hunter2@"+s[i+3:])
		if err == nil {
			conn.Close()
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Dial(%q) shows the password: %v", s, err)
		}
	})
}

var schemeRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*$`)
