package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 19, case 6: a public listener needs TLS: tokens alone would cross
// in clear text, unless --insecure-listen says so.
func TestServePublicNeedsTLS(t *testing.T) {
	env := &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	tokens := filepath.Join(t.TempDir(), "tokens")
	for _, tc := range []struct {
		args []string
		want string // "" for accepted
	}{
		{[]string{"--listen", "0.0.0.0:8000", "--auth-tokens", tokens}, "clear text"},
		{[]string{"--listen", "0.0.0.0:8000"}, "without --tls-cert"},
		{[]string{"--listen", "0.0.0.0:8000", "--auth-tokens", tokens, "--insecure-listen"}, ""},
		{[]string{"--listen", "0.0.0.0:8000", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--auth-tokens", tokens}, ""},
		{[]string{"--listen", "127.0.0.1:8000", "--auth-tokens", tokens}, ""},
		{[]string{"--listen", "127.0.0.1:8000", "--http-listen", "0.0.0.0:8080", "--auth-tokens", tokens}, "clear text"},
	} {
		_, _, err := parseServeFlags(env, tc.args)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("serve %s: %v, want accepted", strings.Join(tc.args, " "), err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("serve %s: %v, want an error saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
