package castorepb

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/castore-go/castore"
)

// FromTag converts a tag to its wire form. A zero Expires or Updated is
// left unset.
func FromTag(t castore.Tag) *Tag {
	return &Tag{Name: t.Name, Root: FromNode(nil, t.Root), Expires: fromTime(t.Expires), Updated: fromTime(t.Updated)}
}

func fromTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// ToTag validates a wire tag and converts it: a valid name and root (a
// node without a name), and valid timestamps. Every refusal wraps
// castore.ErrInvalid and names the tag.
func ToTag(pt *Tag) (castore.Tag, error) {
	if err := castore.ValidateTagName(pt.GetName()); err != nil {
		return castore.Tag{}, err
	}
	root, err := ToRoot(pt.GetRoot())
	if err != nil {
		return castore.Tag{}, fmt.Errorf("tag %q: root: %w", pt.GetName(), err)
	}
	t := castore.Tag{Name: pt.GetName(), Root: root}
	if t.Expires, err = toTime(pt.GetExpires()); err != nil {
		return castore.Tag{}, fmt.Errorf("tag %q: expires: %w", pt.GetName(), err)
	}
	if t.Updated, err = toTime(pt.GetUpdated()); err != nil {
		return castore.Tag{}, fmt.Errorf("tag %q: updated: %w", pt.GetName(), err)
	}
	if err := t.Validate(); err != nil {
		return castore.Tag{}, err
	}
	return t, nil
}

func toTime(ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", castore.ErrInvalid, err)
	}
	return ts.AsTime(), nil
}

// ToRoot validates and converts a root node: one of the three kinds, with
// an empty name.
func ToRoot(pn *Node) (castore.Node, error) {
	name, n, err := ToNode(pn)
	if err != nil {
		return castore.Node{}, err
	}
	if len(name) != 0 {
		return castore.Node{}, &castore.ValidationError{Name: string(name), Err: errRootName}
	}
	if err := n.Validate(); err != nil {
		return castore.Node{}, err
	}
	return n, nil
}

// errRootName refuses a named root node.
var errRootName = fmt.Errorf("a root node has no name: %w", castore.ErrInvalid)

// FromExpect converts an expectation to its wire form: nil for
// castore.ExpectAny.
func FromExpect(e castore.Expect) *Expect {
	if e.Absent() {
		return &Expect{Expect: &Expect_Absent{Absent: true}}
	}
	if root, ok := e.Root(); ok {
		return &Expect{Expect: &Expect_Root{Root: FromNode(nil, root)}}
	}
	return nil
}

// ToExpect validates and converts a wire expectation: unset is
// castore.ExpectAny, absent must be true, a root must be a valid root.
func ToExpect(pe *Expect) (castore.Expect, error) {
	switch e := pe.GetExpect().(type) {
	case nil:
		return castore.ExpectAny, nil
	case *Expect_Absent:
		if !e.Absent {
			return castore.Expect{}, fmt.Errorf("expect: absent is false: %w", castore.ErrInvalid)
		}
		return castore.ExpectAbsent(), nil
	case *Expect_Root:
		root, err := ToRoot(e.Root)
		if err != nil {
			return castore.Expect{}, fmt.Errorf("expect: root: %w", err)
		}
		return castore.ExpectRoot(root), nil
	}
	return castore.Expect{}, fmt.Errorf("expect: unknown kind: %w", castore.ErrInvalid)
}
