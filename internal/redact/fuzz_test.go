package redact_test

import (
	"strings"
	"testing"

	"github.com/castore-go/castore/internal/redact"
)

// FuzzURL: a password put in the user info of any address (right after its
// first "://", before any slash) never shows, however the rest of the
// address is broken; and nothing is longer than the bound.
func FuzzURL(f *testing.F) {
	for _, s := range []string{"s3://bucket/p", "?://host", "grpc+http://h:1?a=b", "a?://h", "s3://b?x=%zz", "://", "x:// h", "s3://[::1]:9000/p?region=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := redact.URL(s, redact.NotSecret); len(got) > 203 {
			t.Fatalf("URL(%q) is %d bytes", s, len(got))
		}
		i := strings.Index(s, "://")
		if i < 0 || strings.ContainsAny(s[:i], "/") || strings.Contains(s, "hunter2") {
			return
		}
		with := s[:i+3] + "u:hunter2@" + s[i+3:]
		for _, show := range []func(string) bool{nil, redact.NotSecret, func(string) bool { return true }} {
			if got := redact.URL(with, show); strings.Contains(got, "hunter2") {
				t.Fatalf("URL(%q) = %q shows the password", with, got)
			}
		}
	})
}
