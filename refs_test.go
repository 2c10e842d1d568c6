package castore

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateTagName(t *testing.T) {
	good := []string{"main", "ci/myrepo/main", "ci/myrepo/pr-123/build-7", "a.b_c-d+e=f@g", strings.Repeat("x", MaxTagNameLength), "..a", "a..b"}
	for _, n := range good {
		if err := ValidateTagName(n); err != nil {
			t.Errorf("ValidateTagName(%q) = %v, want nil", n, err)
		}
	}
	bad := map[string]error{
		"":                                      ErrTagNameEmpty,
		strings.Repeat("x", MaxTagNameLength+1): ErrTagNameLength,
		"/main":                                 ErrTagNameSegment,
		"main/":                                 ErrTagNameSegment,
		"a//b":                                  ErrTagNameSegment,
		"a/../b":                                ErrTagNameSegment,
		"..":                                    ErrTagNameSegment,
		"a/./b":                                 ErrTagNameSegment,
		"a b":                                   ErrTagNameChar,
		"a\x00b":                                ErrTagNameChar,
		"a\\b":                                  ErrTagNameChar,
		"ä":                                     ErrTagNameChar,
		"a:b":                                   ErrTagNameChar,
	}
	for n, want := range bad {
		err := ValidateTagName(n)
		if !errors.Is(err, want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateTagName(%q) = %v, want %v", n, err, want)
		}
	}
	for _, p := range []string{"", "ci", "ci/", "ci/myrepo/"} {
		if err := ValidateTagPrefix(p); err != nil {
			t.Errorf("ValidateTagPrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"/", "ci//", "../", "ci/.."} {
		if err := ValidateTagPrefix(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateTagPrefix(%q) = %v, want ErrInvalid", p, err)
		}
	}
}

func TestExpect(t *testing.T) {
	a := FileNode(Digest{1}, 1, false)
	b := FileNode(Digest{2}, 1, false)
	cur := &Tag{Name: "x", Root: a}
	cases := []struct {
		e    Expect
		cur  *Tag
		want bool
	}{
		{ExpectAny, nil, true}, {ExpectAny, cur, true},
		{ExpectAbsent(), nil, true}, {ExpectAbsent(), cur, false},
		{ExpectRoot(a), cur, true}, {ExpectRoot(b), cur, false}, {ExpectRoot(a), nil, false},
		{ExpectTag(*cur), cur, true}, {ExpectTag(*cur), nil, false},
		{ExpectTag(*cur), &Tag{Name: "x", Root: b}, false},
		{ExpectTag(*cur), &Tag{Name: "x", Root: a, Updated: time.Unix(1, 0)}, false},
		{ExpectTag(*cur), &Tag{Name: "x", Root: a, Expires: time.Unix(1, 0)}, false},
	}
	for i, c := range cases {
		if got := c.e.Holds(c.cur); got != c.want {
			t.Errorf("case %d: %v.Holds = %v, want %v", i, c.e, got, c.want)
		}
	}
	if r, ok := ExpectTag(*cur).Root(); !ok || !r.Equal(a) {
		t.Error("ExpectTag's Root is not the tag's root")
	}
	if _, _, ok := ExpectRoot(a).Tag(); ok {
		t.Error("ExpectRoot says it is an ExpectTag")
	}
	now := time.Now()
	if (Tag{}).Expired(now) || !(Tag{Expires: now}).Expired(now) || (Tag{Expires: now.Add(time.Second)}).Expired(now) {
		t.Error("Expired is wrong")
	}
}

func TestTagValidateExpires(t *testing.T) {
	root := SymlinkNode("t")
	for _, exp := range []time.Time{{}, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Now()} {
		if err := (Tag{Name: "a", Root: root, Expires: exp}).Validate(); err != nil {
			t.Errorf("Validate with Expires %v: %v", exp, err)
		}
	}
	for _, exp := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if err := (Tag{Name: "a", Root: root, Expires: exp}).Validate(); !errors.Is(err, ErrTagExpires) || !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate with Expires %v: %v, want ErrTagExpires", exp, err)
		}
	}
}
