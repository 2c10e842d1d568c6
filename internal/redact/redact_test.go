package redact_test

import (
	"strings"
	"testing"

	"github.com/castore-go/castore/internal/redact"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		show func(string) bool
		want string
	}{
		{"s3://bucket/p", nil, "s3://bucket/p"},
		{"memory://", nil, "memory:"},
		{"memory:///", nil, "memory:///"},
		{"file:///with%20space", nil, "file:///with%20space"},
		{"s3://AKIA:hunter2@bucket/p", nil, "s3://<redacted>@bucket/p"},
		{"gs://user@bucket/p", nil, "gs://<redacted>@bucket/p"},
		{"s3://bucket/p?region=eu-west-1&endpoint=http://x:9000", nil, "s3://bucket/p?endpoint=<redacted>&region=<redacted>"},
		{"s3://bucket/p?region=eu&secret_access_key=abc", redact.NotSecret, "s3://bucket/p?region=eu&secret_access_key=<redacted>"},
		{"s3://bucket/p?endpoint=http://admin:pw@minio:9000", redact.NotSecret, "s3://bucket/p?endpoint=<redacted>"},
		{"grpc+https://h:1?ca=/a/ca.pem&cert=/c&key=/k&token-file=/t", redact.NotSecret, "grpc+https://h:1?ca=%2Fa%2Fca.pem&cert=%2Fc&key=%2Fk&token-file=<redacted>"},
		{"s3://bucket/p?x=%zz", redact.NotSecret, "s3://bucket/p?..."},
		{"s3://bucket/p#fragment", nil, "s3://bucket/p"},
		{"s3:bucket/p", nil, "s3:..."},
		{"s3://bucket/%zz", nil, "s3:(unparsable)"},
		{"s3://us%zzer:passpass@bucket/p", nil, "s3:(unparsable)"},
		{"objectstore+s3://AKIA:hunter2@b/p%zz", redact.NotSecret, "objectstore+s3:(unparsable)"},
		{"127.0.0.1:8000", nil, "(unparsable)"},
		{"?://u:hunter2@host", redact.NotSecret, "?<redacted>=<redacted>"},
		{"grpc+http://h:1?a:hunter2@b=1&ok=2", redact.NotSecret, "grpc+http://h:1?<redacted>=<redacted>&ok=2"},
		{"s3://bucket/" + strings.Repeat("a", 300), nil, "s3://bucket/" + strings.Repeat("a", 200-len("s3://bucket/")) + "..."},
	} {
		if got := redact.URL(tc.url, tc.show); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

// The rule for service addresses: user info and the values of
// secret-looking parameters are hidden, the rest is shown.
func TestNotSecret(t *testing.T) {
	got := redact.URL("s3://AKIA:hunter2@bucket/p?secret_access_key=abc&region=eu", redact.NotSecret)
	if strings.Contains(got, "hunter2") || strings.Contains(got, "abc") || !strings.Contains(got, "region=eu") {
		t.Errorf("URL = %s", got)
	}
	for name, want := range map[string]bool{"region": true, "key": true, "ca": true, "Token": false, "access_key": false, "apikey": false, "password": false, "client_secret": false} {
		if got := redact.NotSecret(name); got != want {
			t.Errorf("NotSecret(%q) = %v, want %v", name, got, want)
		}
	}
}
