package refstore

import (
	"crypto/rand"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/castorepb"
)

// recordVersion is the version of castore.v1.TagRecord this package
// writes and the only one it reads.
const recordVersion = 1

// maxRecord bounds a stored record: a name of 512 bytes and a symlink
// target of 4095 take well under 5 KiB; anything much larger is not one
// of ours.
const maxRecord = 16 << 10

// encodeRecord returns the stored form of t, with a new nonce.
func encodeRecord(t castore.Tag) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&castorepb.TagRecord{Version: recordVersion, Tag: castorepb.FromTag(t), Nonce: nonce()})
	if err != nil {
		panic(fmt.Sprintf("refstore: marshalling a tag record: %v", err)) // a valid tag always marshals
	}
	return b
}

// tombstone is the stored form of a deleted tag, for stores that cannot
// delete conditionally.
func tombstone() []byte {
	b, _ := proto.Marshal(&castorepb.TagRecord{Version: recordVersion, Deleted: true, Nonce: nonce()})
	return b
}

// nonce makes each write's bytes new (see TagRecord.nonce).
func nonce() []byte {
	b := make([]byte, 8)
	rand.Read(b)
	return b
}

// decodeRecord decodes the record stored for name: the tag, or deleted
// set for a tombstone. Whatever does not decode to a valid tag of that
// name (or a tombstone) wraps castore.ErrCorrupt.
func decodeRecord(name string, b []byte) (t castore.Tag, deleted bool, err error) {
	fail := func(format string, args ...any) (castore.Tag, bool, error) {
		return castore.Tag{}, false, fmt.Errorf("tag %q: stored record: %s: %w", name, fmt.Sprintf(format, args...), castore.ErrCorrupt)
	}
	if len(b) > maxRecord {
		return fail("%d bytes, more than the %d a record may have", len(b), maxRecord)
	}
	var rec castorepb.TagRecord
	if err := proto.Unmarshal(b, &rec); err != nil {
		return fail("%v", err)
	}
	if len(rec.Nonce) > 64 {
		return fail("a nonce of %d bytes", len(rec.Nonce))
	}
	if rec.Version != recordVersion {
		return fail("version %d, not %d (written by a newer castore?)", rec.Version, recordVersion)
	}
	if rec.Deleted {
		if rec.Tag != nil {
			return fail("a tombstone with a tag")
		}
		return castore.Tag{}, true, nil
	}
	if rec.Tag == nil {
		return fail("no tag")
	}
	t, err = castorepb.ToTag(rec.Tag)
	if err != nil {
		return fail("%v", err)
	}
	if t.Name != name {
		return fail("it names %q", t.Name)
	}
	if t.Updated.IsZero() {
		return fail("no updated time")
	}
	return t, false, nil
}
