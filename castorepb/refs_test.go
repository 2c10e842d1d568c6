package castorepb_test

import (
	"errors"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/castorepb"
)

func TestTagRoundTrip(t *testing.T) {
	root := castore.DirectoryNode(castore.Sum([]byte("r")), 3)
	for _, tag := range []castore.Tag{
		{Name: "a/b", Root: root},
		{Name: "a", Root: castore.SymlinkNode("x"), Expires: time.Date(2030, 1, 1, 0, 0, 0, 5, time.UTC), Updated: time.Unix(7, 8).UTC()},
	} {
		got, err := castorepb.ToTag(castorepb.FromTag(tag))
		if err != nil || got.Name != tag.Name || !got.Root.Equal(tag.Root) || !got.Expires.Equal(tag.Expires) || !got.Updated.Equal(tag.Updated) {
			t.Fatalf("round trip of %+v: %+v, %v", tag, got, err)
		}
	}
	for _, e := range []castore.Expect{castore.ExpectAny, castore.ExpectAbsent(), castore.ExpectRoot(root)} {
		got, err := castorepb.ToExpect(castorepb.FromExpect(e))
		if err != nil || got != e {
			t.Fatalf("round trip of %v: %v, %v", e, got, err)
		}
	}
}

func TestToExpectRefuses(t *testing.T) {
	for why, pe := range map[string]*castorepb.Expect{
		"absent false": {Expect: &castorepb.Expect_Absent{Absent: false}},
		"empty root":   {Expect: &castorepb.Expect_Root{Root: &castorepb.Node{}}},
		"nil root":     {Expect: &castorepb.Expect_Root{}},
		"named root":   {Expect: &castorepb.Expect_Root{Root: castorepb.FromNode([]byte("n"), castore.SymlinkNode("x"))}},
	} {
		if _, err := castorepb.ToExpect(pe); !errors.Is(err, castore.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", why, err)
		}
	}
}
