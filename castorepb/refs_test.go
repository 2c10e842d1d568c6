package castorepb_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

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

// FuzzSetTagRequest: the bytes of a request a client sends decode, if at
// all, to a valid tag and expectation or to a refusal wrapping
// ErrInvalid; never a panic.
func FuzzSetTagRequest(f *testing.F) {
	root := castore.DirectoryNode(castore.Sum([]byte("r")), 3)
	for _, req := range []*castorepb.SetTagRequest{
		{Tag: castorepb.FromTag(castore.Tag{Name: "ci/main", Root: root, Expires: time.Unix(1e9, 5)}), Expect: castorepb.FromExpect(castore.ExpectRoot(root))},
		{Tag: castorepb.FromTag(castore.Tag{Name: "a", Root: castore.SymlinkNode("t")}), Expect: castorepb.FromExpect(castore.ExpectAbsent())},
		{Tag: &castorepb.Tag{Name: "../x"}},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req castorepb.SetTagRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		tag, err := castorepb.ToTag(req.GetTag())
		if err != nil {
			if !errors.Is(err, castore.ErrInvalid) {
				t.Fatalf("a refusal not wrapping ErrInvalid: %v", err)
			}
		} else if err := tag.Validate(); err != nil {
			t.Fatalf("accepted an invalid tag %+v: %v", tag, err)
		}
		e, err := castorepb.ToExpect(req.GetExpect())
		if err != nil {
			if !errors.Is(err, castore.ErrInvalid) {
				t.Fatalf("a refusal not wrapping ErrInvalid: %v", err)
			}
		} else if r, ok := e.Root(); ok && r.Validate() != nil {
			t.Fatalf("accepted an invalid expected root %+v", r)
		}
	})
}
