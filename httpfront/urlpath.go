package httpfront

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/castore-go/castore"
)

// MaxURLPath is the longest request path served, in bytes as decoded;
// a longer one is 414 URI Too Long. (A tree's paths have no bound, but
// 255-byte names 32 deep fit.)
const MaxURLPath = 8192

// errBadPath is a request path that is not one a tree can have.
var errBadPath = errors.New("bad path")

// parseDigest reads a digest from the start of s, in one of the forms
// the package doc lists, and returns it with the number of bytes it took.
// The digest must be followed by the end of s or a slash.
func parseDigest(s string) (castore.Digest, int, error) {
	tok, prefix := s, 0
	if rest, ok := strings.CutPrefix(s, "b3:"); ok {
		tok, prefix = rest, 3
	}
	// Padded base64 of 32 bytes is 44 characters ending in "="; the
	// standard alphabet's may hold slashes, so it is taken by length.
	n := strings.IndexByte(tok, '/')
	if len(tok) >= 44 && tok[43] == '=' {
		n = 44
	} else if n < 0 {
		n = len(tok)
	}
	if n < len(tok) && tok[n] != '/' {
		return castore.Digest{}, 0, fmt.Errorf("digest %q: want b3:BASE64, URL-safe base64 or 64 hex characters", clip(s))
	}
	text := tok[:n]
	var raw []byte
	var err error
	switch {
	case len(text) == 64 && prefix == 0:
		raw, err = hex.DecodeString(text)
	case len(text) == 44:
		if raw, err = base64.StdEncoding.Strict().DecodeString(text); err != nil {
			raw, err = base64.URLEncoding.Strict().DecodeString(text)
		}
	case len(text) == 43:
		if raw, err = base64.RawURLEncoding.Strict().DecodeString(text); err != nil {
			raw, err = base64.RawStdEncoding.Strict().DecodeString(text)
		}
	default:
		err = errors.New("wrong length")
	}
	if err != nil || len(raw) != castore.DigestSize {
		return castore.Digest{}, 0, fmt.Errorf("digest %q: want b3:BASE64, URL-safe base64 or 64 hex characters", clip(s[:prefix+n]))
	}
	return castore.Digest(raw), prefix + n, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// treePath is what follows the digest in a request path: a path inside
// the tree, and whether the request named it as a directory (a trailing
// slash).
type treePath struct {
	path  castore.Path
	slash bool
}

// parseTreePath checks the rest of a request path after the digest:
// empty, or "/" followed by names joined by slashes, with at most one
// trailing slash. A name that is empty, "." or "..", or holds NUL or
// overlong UTF-8, is refused: such a path is never a tree's, and
// refusing it means nothing downstream has to think about it.
func parseTreePath(rest string) (treePath, error) {
	if rest == "" {
		return treePath{}, nil
	}
	if rest[0] != '/' {
		return treePath{}, fmt.Errorf("%w: %q", errBadPath, clip(rest))
	}
	if rest == "/" {
		return treePath{slash: true}, nil
	}
	rest = rest[1:]
	var tp treePath
	if r, ok := strings.CutSuffix(rest, "/"); ok {
		rest, tp.slash = r, true
	}
	if hasOverlongUTF8(rest) {
		return treePath{}, fmt.Errorf("%w: overlong UTF-8 in %q", errBadPath, clip(rest))
	}
	p, err := castore.ParsePath(rest)
	if err != nil {
		return treePath{}, fmt.Errorf("%w: %v", errBadPath, err)
	}
	tp.path = p
	return tp, nil
}

// hasOverlongUTF8 reports whether s holds an overlong UTF-8 encoding
// (C0 AE is an overlong "."), or one of a surrogate. Other bytes that are
// not UTF-8 are names castore stores, and are served.
func hasOverlongUTF8(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x80 {
			continue
		}
		switch {
		case b == 0xC0 || b == 0xC1:
			return true
		case i+1 < len(s):
			c := s[i+1]
			if b == 0xE0 && c >= 0x80 && c < 0xA0 || // overlong 3-byte
				b == 0xED && c >= 0xA0 && c < 0xC0 || // surrogate
				b == 0xF0 && c >= 0x80 && c < 0x90 { // overlong 4-byte
				return true
			}
		}
	}
	return false
}

// escapePath escapes a tree path for a URL, name by name.
func escapePath(p castore.Path) string {
	if p == "" {
		return ""
	}
	parts := p.Components()
	var b strings.Builder
	for i, c := range parts {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(string(c)))
	}
	return b.String()
}

// escapeSlashed escapes each '/'-separated part of text for a URL path,
// keeping the slashes: a digest as the request spelled it (the b3: form
// has slashes), or a tag name.
func escapeSlashed(text string) string {
	parts := strings.Split(text, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
