package httpfront

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/castore-go/castore"
)

// FuzzParseDigest: whatever a request path starts with, a digest is
// taken only in one of its forms, spelled exactly, and ends at a slash
// or the end.
//
//	go test -fuzz FuzzParseDigest ./httpfront
func FuzzParseDigest(f *testing.F) {
	d := castore.Sum([]byte("seed"))
	for _, s := range []string{d.String(), d.Hex(), base64.RawURLEncoding.EncodeToString(d[:]), "b3:" + base64.URLEncoding.EncodeToString(d[:]) + "/x",
		d.String() + "/a/b", "b3:", "b3:////////////////////////////////////////////=", "", "/", strings.Repeat("0", 64) + "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, n, err := parseDigest(s)
		if err != nil {
			return
		}
		if n > len(s) || n < len(s) && s[n] != '/' {
			t.Fatalf("%q: took %d bytes, not up to a slash or the end", s, n)
		}
		text := s[:n]
		forms := []string{d.String(), d.Hex(), strings.ToUpper(d.Hex()), base64.URLEncoding.EncodeToString(d[:]), base64.RawURLEncoding.EncodeToString(d[:]),
			base64.StdEncoding.EncodeToString(d[:]), base64.RawStdEncoding.EncodeToString(d[:])}
		for _, f := range forms[3:] {
			forms = append(forms, "b3:"+f)
		}
		ok := false
		for _, f := range forms {
			ok = ok || strings.EqualFold(f, text) && (f == text || len(text) == 64)
		}
		if !ok {
			t.Fatalf("%q parsed as %s, which it does not spell", text, d)
		}
	})
}

// FuzzTreePath: a path accepted has only names a directory can hold.
//
//	go test -fuzz FuzzTreePath ./httpfront
func FuzzTreePath(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b/", "/a/../b", "//", "/a\x00", "/\xc0\xae", "/.", "/a/./b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := parseTreePath(s)
		if err != nil {
			return
		}
		if tp.path == "" {
			return
		}
		for _, c := range tp.path.Components() {
			if err := castore.ValidateName([]byte(c)); err != nil {
				t.Fatalf("%q: accepted with the name %q: %v", s, c, err)
			}
		}
		if hasOverlongUTF8(string(tp.path)) {
			t.Fatalf("%q: accepted with overlong UTF-8", s)
		}
		if want := "/" + string(tp.path); s != want && s != want+"/" {
			t.Fatalf("%q: accepted as %q", s, tp.path)
		}
	})
}
