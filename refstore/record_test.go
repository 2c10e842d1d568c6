package refstore_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/refstore"
	"github.com/castore-go/castore/reftest"
)

func validTag() castore.Tag {
	return castore.Tag{Name: "ci/main", Root: reftest.Root(1), Expires: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), Updated: time.Date(2026, 1, 1, 0, 0, 0, 7, time.UTC)}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, tag := range []castore.Tag{
		validTag(),
		{Name: "a", Root: castore.SymlinkNode(strings.Repeat("t", 4095)), Updated: time.Unix(1, 0).UTC()},
		{Name: strings.Repeat("n", 512), Root: castore.FileNode(castore.EmptyDigest, 0, true), Updated: time.Unix(1, 0).UTC()},
	} {
		b := refstore.EncodeRecord(tag)
		got, deleted, err := refstore.DecodeRecord(tag.Name, b)
		if err != nil || deleted || !reftest.Equal(got, tag) {
			t.Fatalf("round trip of %+v: %+v, %v, %v", tag, got, deleted, err)
		}
		if bytes.Equal(refstore.EncodeRecord(got), b) {
			t.Fatalf("two encodings of a tag are the same bytes: no nonce")
		}
	}
	if _, deleted, err := refstore.DecodeRecord("x", refstore.Tombstone()); err != nil || !deleted {
		t.Fatalf("tombstone: %v, %v", deleted, err)
	}
}

// hostileRecords are stored bytes that are not a valid record of the tag
// "ci/main", each for a reason.
func hostileRecords() map[string][]byte {
	m := func(rec *castorepb.TagRecord) []byte {
		b, err := proto.Marshal(rec)
		if err != nil {
			panic(err)
		}
		return b
	}
	tag := func(edit func(*castorepb.Tag)) *castorepb.Tag {
		pt := castorepb.FromTag(validTag())
		edit(pt)
		return pt
	}
	v1 := func(pt *castorepb.Tag) []byte { return m(&castorepb.TagRecord{Version: 1, Tag: pt}) }
	return map[string][]byte{
		"empty":              nil,
		"garbage":            []byte("\xff\xff\xff\xff"),
		"truncated":          refstore.EncodeRecord(validTag())[:10],
		"version 0":          m(&castorepb.TagRecord{Tag: castorepb.FromTag(validTag())}),
		"version 2":          m(&castorepb.TagRecord{Version: 2, Tag: castorepb.FromTag(validTag())}),
		"no tag":             m(&castorepb.TagRecord{Version: 1}),
		"tombstone with tag": m(&castorepb.TagRecord{Version: 1, Deleted: true, Tag: castorepb.FromTag(validTag())}),
		"other name":         v1(tag(func(pt *castorepb.Tag) { pt.Name = "ci/other" })),
		"invalid name":       v1(tag(func(pt *castorepb.Tag) { pt.Name = "../x" })),
		"no root":            v1(tag(func(pt *castorepb.Tag) { pt.Root = nil })),
		"empty root":         v1(tag(func(pt *castorepb.Tag) { pt.Root = &castorepb.Node{} })),
		"named root":         v1(tag(func(pt *castorepb.Tag) { pt.Root.GetDirectory().Name = []byte("x") })),
		"short digest":       v1(tag(func(pt *castorepb.Tag) { pt.Root.GetDirectory().Digest = []byte{1, 2} })),
		"bad symlink":        v1(tag(func(pt *castorepb.Tag) { pt.Root = castorepb.FromNode(nil, castore.SymlinkNode("a\x00b")) })),
		"empty symlink":      v1(tag(func(pt *castorepb.Tag) { pt.Root = castorepb.FromNode(nil, castore.SymlinkNode("")) })),
		"bad nanos":          v1(tag(func(pt *castorepb.Tag) { pt.Expires.Nanos = 1e9 })),
		"negative nanos":     v1(tag(func(pt *castorepb.Tag) { pt.Updated.Nanos = -1 })),
		"year 10000":         v1(tag(func(pt *castorepb.Tag) { pt.Expires = &timestamppb.Timestamp{Seconds: 253402300800} })),
		"year 0":             v1(tag(func(pt *castorepb.Tag) { pt.Updated = &timestamppb.Timestamp{Seconds: -62135596801} })),
		"no updated":         v1(tag(func(pt *castorepb.Tag) { pt.Updated = nil })),
		"huge":               append(refstore.EncodeRecord(validTag()), m(&castorepb.TagRecord{Tag: &castorepb.Tag{Name: strings.Repeat("x", 20<<10)}})...),
	}
}

func TestRecordHostile(t *testing.T) {
	for why, b := range hostileRecords() {
		got, deleted, err := refstore.DecodeRecord("ci/main", b)
		if !errors.Is(err, castore.ErrCorrupt) || deleted {
			t.Errorf("%s: decoded to %+v, deleted %v, %v; want ErrCorrupt", why, got, deleted, err)
		} else if !strings.Contains(err.Error(), `"ci/main"`) {
			t.Errorf("%s: the error does not name the tag: %v", why, err)
		}
	}
}

// FuzzDecodeRecord: any bytes decode to a valid tag of the key's name that
// encodes back to a record decoding the same, or a tombstone, or fail
// with ErrCorrupt; never a panic.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(refstore.EncodeRecord(validTag()))
	f.Add(refstore.Tombstone())
	for _, b := range hostileRecords() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, deleted, err := refstore.DecodeRecord("ci/main", b)
		switch {
		case err != nil:
			if !errors.Is(err, castore.ErrCorrupt) {
				t.Fatalf("a refusal not wrapping ErrCorrupt: %v", err)
			}
		case deleted:
		default:
			if err := tag.Validate(); err != nil || tag.Name != "ci/main" || tag.Updated.IsZero() {
				t.Fatalf("decoded an invalid tag %+v: %v", tag, err)
			}
			again, _, err := refstore.DecodeRecord("ci/main", refstore.EncodeRecord(tag))
			if err != nil || !reftest.Equal(again, tag) {
				t.Fatalf("re-encoded %+v decodes to %+v, %v", tag, again, err)
			}
		}
	})
}
