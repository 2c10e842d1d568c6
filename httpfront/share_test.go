package httpfront_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore/httpfront"
)

var testShareKey = []byte("0123456789abcdef0123456789abcdef")

func shareKey(t testing.TB, key []byte) *httpfront.ShareKey {
	t.Helper()
	k, err := httpfront.NewShareKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t testing.TB, k *httpfront.ShareKey, scope string, exp time.Time) string {
	t.Helper()
	tok, err := k.Sign(scope, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// With tokens on, a share link lets its path (or, for a directory, what is
// below it) through without a bearer token, and nothing else; its cookie
// carries the grant to the listing's relative links.
func TestShareLinks(t *testing.T) {
	k := shareKey(t, testShareKey)
	f := newFixture(t, httpfront.Options{AutoIndex: true, ReadAllowed: func(string) bool { return false }, ShareKey: k})
	hour := time.Now().Add(time.Hour)

	docs := sign(t, k, f.url("docs/"), hour)
	resp := f.do(t, "GET", f.url("docs/")+"?share="+url.QueryEscape(docs))
	wantStatus(t, resp, 200)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == httpfront.ShareCookie {
			cookie = c
		}
	}
	if cookie == nil || cookie.Path != f.url("docs/") || !cookie.HttpOnly || cookie.Value != docs {
		t.Fatalf("share cookie: %+v", cookie)
	}
	withCookie := []string{"Cookie", httpfront.ShareCookie + "=" + docs}
	for target, want := range map[string]int{
		f.url("docs/page.txt"):          200,
		f.url("docs/deep/er/x.json"):    200,
		f.url("docs"):                   0, // redirects to docs/
		f.url("README.md"):              401,
		f.url("docs/../README.md"):      401,
		f.url("docs/./page.txt"):        401,
		f.url("docs//page.txt"):         401,
		f.url(""):                       401,
		"/blobs/" + f.root.Hex():        401,
		f.url("docsx/page.txt"):         401,
		f.url("docs/page.txt") + "?x=1": 200,
	} {
		resp := f.do(t, "GET", target, withCookie...)
		if want == 0 {
			if resp.StatusCode < 300 || resp.StatusCode > 399 {
				t.Errorf("%s with the docs/ cookie: %d, want a redirect", target, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != want {
			t.Errorf("%s with the docs/ cookie: %d, want %d", target, resp.StatusCode, want)
		}
	}

	// A file's link is for that file alone.
	readme := sign(t, k, f.url("README.md"), hour)
	wantStatus(t, f.do(t, "GET", f.url("README.md")+"?share="+readme), 200)
	wantStatus(t, f.do(t, "GET", f.url("noext")+"?share="+readme), 401)
	wantStatus(t, f.do(t, "GET", f.url("README.md/")+"?share="+readme), 401)

	// Refusals say why, in the body.
	other := shareKey(t, []byte("another key, also 32 bytes long!!"))
	parts := strings.Split(readme, ".")
	parts[2] = base64.RawURLEncoding.EncodeToString([]byte(f.url("noext"))) // the MAC of README.md's link
	for name, c := range map[string]struct {
		tok  string
		want string
	}{
		"expired":   {sign(t, k, f.url("README.md"), time.Now().Add(-time.Second)), "expired"},
		"other key": {sign(t, other, f.url("README.md"), hour), "signature"},
		"altered":   {strings.Join(parts, "."), "signature"},
		"malformed": {"v2." + readme[3:], "malformed"},
		"scope":     {docs, "another path"},
	} {
		target := f.url("README.md")
		if name == "altered" {
			target = f.url("noext")
		}
		resp := f.do(t, "GET", target+"?share="+url.QueryEscape(c.tok))
		wantStatus(t, resp, 401)
		if b := body(t, resp); !strings.Contains(b, c.want) {
			t.Errorf("%s token: body %q, want it to say %q", name, b, c.want)
		}
	}

	// Without a share key, share tokens are nothing.
	g := newFixture(t, httpfront.Options{AutoIndex: true, ReadAllowed: func(string) bool { return false }})
	wantStatus(t, g.do(t, "GET", g.url("README.md")+"?share="+sign(t, k, g.url("README.md"), hour)), 401)
}

// A refused request is logged with its reason, never with its token.
func TestRefusalsLogged(t *testing.T) {
	var logs bytes.Buffer
	k := shareKey(t, testShareKey)
	f := newFixture(t, httpfront.Options{ReadAllowed: func(string) bool { return false }, ShareKey: k, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	tok := sign(t, k, f.url("README.md"), time.Now().Add(-time.Minute))
	wantStatus(t, f.do(t, "GET", f.url("README.md")+"?share="+tok), 401)
	wantStatus(t, f.do(t, "GET", f.url("README.md"), "Authorization", "Bearer s3cr3t-t0ken"), 401)
	out := logs.String()
	if strings.Count(out, "refused HTTP request") != 2 || !strings.Contains(out, "expired") || !strings.Contains(out, "token_given=true") {
		t.Errorf("refusal log:\n%s", out)
	}
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, tok) {
		t.Errorf("a token reached the log:\n%s", out)
	}
}

func TestShareKeyRules(t *testing.T) {
	if _, err := httpfront.NewShareKey([]byte("short\n")); err == nil {
		t.Error("a 5-byte share key was accepted")
	}
	if _, err := httpfront.NewShareKey([]byte(" " + string(testShareKey[:31]) + "\n")); err == nil {
		t.Error("a 31-byte key (with white space around it) was accepted")
	}
	k := shareKey(t, testShareKey)
	for _, scope := range []string{"", "/", "/etc/passwd", "b3/x", "/b3/x/../y", "/b3//x", "/b3/./x", "/b3/" + strings.Repeat("x", 9000)} {
		if _, err := k.Sign(scope, time.Now().Add(time.Hour)); err == nil {
			t.Errorf("Sign(%.30q) was accepted", scope)
		}
	}
	tok := sign(t, k, "/b3/abc/", time.Now().Add(time.Hour))
	if _, _, err := k.Verify(tok, "/b3/abc/def", time.Now()); err != nil {
		t.Error(err)
	}
	if _, _, err := k.Verify(tok, "/b3/abc/def", time.Now().Add(2*time.Hour)); !errors.Is(err, httpfront.ErrShareExpired) {
		t.Errorf("Verify after expiry: %v", err)
	}
}

// FuzzShareVerify: no token panics Verify, and one it accepts grants a
// clean path within its scope only.
func FuzzShareVerify(f *testing.F) {
	k, _ := httpfront.NewShareKey(testShareKey)
	tok, _ := k.Sign("/b3/abc/", time.Unix(1<<40, 0))
	f.Add(tok, "/b3/abc/x")
	f.Add("v1.1.Lw.AAAA", "/")
	f.Add("v1..."+tok, "/b3/abc/../x")
	f.Fuzz(func(t *testing.T, tok, p string) {
		scope, _, err := k.Verify(tok, p, time.Unix(0, 0))
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, strings.TrimSuffix(scope, "/")) || strings.Contains(p, "/../") || strings.Contains(p, "//") {
			t.Fatalf("token for %q let %q through", scope, p)
		}
	})
}
