package httpfront

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// Share links. A share token grants reading one path of the URL space, or
// everything below a path ending in '/', until it expires, without a bearer
// token: `castore share` prints a link carrying one (?share=TOKEN), signed
// with a key the gateway is started with. The first request through the
// link sets a cookie of the same token, limited to that path, so the
// relative links of a shared listing work without the query.
//
// A token is "v1.EXPIRY.SCOPE.MAC": EXPIRY in Unix seconds, SCOPE the path
// (URL-safe base64, no padding), MAC the HMAC-SHA256 under the key of
// "castore-share-v1\n" + EXPIRY + "\n" + SCOPE (URL-safe base64). Changing
// any part, or signing with another key, makes it invalid; there is no
// revocation but the expiry and a new key.

// ShareParam is the query parameter that carries a share token, and
// ShareCookie the cookie that carries it after the first request.
const (
	ShareParam  = "share"
	ShareCookie = "castore_share"
)

// MinShareKey is the shortest share key accepted, in bytes.
const MinShareKey = 32

// MaxShareTTL is the longest a share link may live.
const MaxShareTTL = 366 * 24 * time.Hour

// Errors of share tokens, wrapped by ShareKey.Verify.
var (
	ErrShareMalformed = errors.New("the share token is malformed")
	ErrShareSignature = errors.New("the share token's signature does not match (signed with another key, or altered)")
	ErrShareExpired   = errors.New("the share link has expired")
	ErrShareScope     = errors.New("the share link is for another path")
)

// ShareKey signs and checks share tokens.
type ShareKey struct{ key []byte }

// NewShareKey returns a ShareKey for key, which must have at least
// MinShareKey bytes (leading and trailing white space, as a key file's
// final newline, is not part of it).
func NewShareKey(key []byte) (*ShareKey, error) {
	k := []byte(strings.TrimSpace(string(key)))
	if len(k) < MinShareKey {
		return nil, fmt.Errorf("share key has %d bytes; at least %d are needed (for example: head -c 32 /dev/urandom | base64 > share.key)", len(k), MinShareKey)
	}
	return &ShareKey{key: k}, nil
}

// checkScope refuses a scope no request can match: outside /b3/, /blobs/
// and /tags/, or not clean.
func checkScope(scope string) error {
	switch {
	case !strings.HasPrefix(scope, "/b3/") && !strings.HasPrefix(scope, "/blobs/") && !strings.HasPrefix(scope, "/tags/"):
		return fmt.Errorf("share scope %q is not under /b3/, /blobs/ or /tags/", scope)
	case !cleanPath(scope), len(scope) > MaxURLPath:
		return fmt.Errorf("share scope %q is not a clean path of at most %d bytes", clip(scope), MaxURLPath)
	}
	return nil
}

// cleanPath reports whether p has no empty, "." or ".." component (a
// trailing slash aside).
func cleanPath(p string) bool {
	t := strings.TrimSuffix(p, "/")
	return t != "" && path.Clean(t) == t
}

// Sign returns a token for scope (a URL path; ending in '/' for
// everything below it) valid until expires.
func (k *ShareKey) Sign(scope string, expires time.Time) (string, error) {
	if err := checkScope(scope); err != nil {
		return "", err
	}
	exp := strconv.FormatInt(expires.Unix(), 10)
	s := base64.RawURLEncoding.EncodeToString([]byte(scope))
	return "v1." + exp + "." + s + "." + base64.RawURLEncoding.EncodeToString(k.mac(exp, s)), nil
}

func (k *ShareKey) mac(exp, scope string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte("castore-share-v1\n" + exp + "\n" + scope))
	return m.Sum(nil)
}

// Verify checks token for a request of urlPath at now, and returns the
// token's scope and expiry.
func (k *ShareKey) Verify(token, urlPath string, now time.Time) (scope string, expires time.Time, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != "v1" || len(token) > 4*MaxURLPath {
		return "", time.Time{}, ErrShareMalformed
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || exp < 0 || strconv.FormatInt(exp, 10) != parts[1] {
		return "", time.Time{}, ErrShareMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", time.Time{}, ErrShareMalformed
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return "", time.Time{}, ErrShareMalformed
	}
	if !hmac.Equal(mac, k.mac(parts[1], parts[2])) {
		return "", time.Time{}, ErrShareSignature
	}
	scope, expires = string(raw), time.Unix(exp, 0)
	if !now.Before(expires) {
		return "", time.Time{}, fmt.Errorf("%w (at %s)", ErrShareExpired, expires.UTC().Format(time.RFC3339))
	}
	if !inScope(urlPath, scope) {
		return "", time.Time{}, ErrShareScope
	}
	return scope, expires, nil
}

// inScope reports whether a request of p is what scope grants: p itself,
// or, for a scope ending in '/', anything below it and the directory
// without its slash (which redirects to it). p must be clean, so that
// ".." cannot climb out of the scope.
func inScope(p, scope string) bool {
	if !cleanPath(p) {
		return false
	}
	if strings.HasSuffix(scope, "/") {
		return strings.HasPrefix(p, scope) || p == strings.TrimSuffix(scope, "/")
	}
	return p == scope
}

// shareAllowed reports whether r carries a share token (query or cookie)
// valid for its path; from the query, it sets the cookie for the next
// requests. why says what was wrong with a token present but refused.
func (h *Handler) shareAllowed(w http.ResponseWriter, r *http.Request) (ok bool, why error) {
	k := h.o.ShareKey
	if k == nil {
		return false, nil
	}
	now := time.Now()
	if tok := r.URL.Query().Get(ShareParam); tok != "" {
		scope, exp, err := k.Verify(tok, r.URL.Path, now)
		if err != nil {
			return false, err
		}
		http.SetCookie(w, &http.Cookie{
			Name: ShareCookie, Value: tok, Path: scope, Expires: exp, MaxAge: int(exp.Sub(now).Seconds()) + 1,
			HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
		})
		return true, nil
	}
	var why2 error
	for _, c := range r.CookiesNamed(ShareCookie) {
		if _, _, err := k.Verify(c.Value, r.URL.Path, now); err == nil {
			return true, nil
		} else if why2 == nil {
			why2 = err
		}
	}
	return false, why2
}
