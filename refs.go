package castore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
)

// ErrConflict is wrapped when a conditional Set or Delete of a tag finds a
// current value other than the one it expects: another writer got there
// first. Read the tag again and decide.
var ErrConflict = errors.New("tag changed concurrently")

// MaxTagNameLength is the longest tag name in bytes.
const MaxTagNameLength = 512

// The rules of tag names. Each is returned wrapped by ValidateTagName in an
// error that quotes the name.
var (
	ErrTagNameEmpty   error = invalidError("tag name is empty")
	ErrTagNameLength  error = invalidError("tag name is longer than 512 bytes")
	ErrTagNameSegment error = invalidError("tag name has an empty, \".\" or \"..\" segment")
	ErrTagNameChar    error = invalidError("tag name has a character outside A-Z a-z 0-9 . _ - + = @ and /")
)

// ValidateTagName checks a tag name: 1..512 bytes of '/'-separated
// segments, none empty, "." or "..", each of the characters A-Z a-z 0-9
// . _ - + = @. So a name is a safe relative path and object key: it never
// escapes a prefix, starts or ends with a slash, or needs escaping.
func ValidateTagName(name string) error {
	fail := func(rule error) error { return fmt.Errorf("tag name %q: %w", name, rule) }
	switch {
	case name == "":
		return fail(ErrTagNameEmpty)
	case len(name) > MaxTagNameLength:
		return fmt.Errorf("tag name %.40q...: %w", name, ErrTagNameLength)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("._-+=@/", c) >= 0
		if !ok {
			return fail(ErrTagNameChar)
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fail(ErrTagNameSegment)
		}
	}
	return nil
}

// ValidateTagPrefix checks a prefix to list tags by: empty (every tag), or
// a valid tag name, optionally followed by one '/' ("ci/" lists "ci/x" but
// not "cix"; "ci" lists both).
func ValidateTagPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := ValidateTagName(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("tag prefix: %w", err)
	}
	return nil
}

// Tag is a named root: a name that keeps a root node (and so its whole
// closure) alive until it is deleted or expires.
type Tag struct {
	// Name is the tag's name (see ValidateTagName).
	Name string
	// Root is the node the tag names: usually a directory, possibly a file
	// or a symlink.
	Root Node
	// Expires is when the tag stops keeping Root alive; zero means never.
	// An expired tag is still stored (Get and List return it) until
	// garbage collection deletes it; resolving it for reading is refused.
	Expires time.Time
	// Updated is when the tag was last set, stamped by the service; Set
	// ignores the caller's value.
	Updated time.Time
}

// Expired reports whether the tag has expired at now.
func (t Tag) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// ErrTagExpires is wrapped when a tag's expiry is outside the years
// 1..9999, which is what the wire and the stored records can carry.
var ErrTagExpires error = invalidError("tag expiry is outside the years 1 to 9999")

// Validate checks the tag's name, root node and expiry.
func (t Tag) Validate() error {
	if err := ValidateTagName(t.Name); err != nil {
		return err
	}
	if err := t.Root.Validate(); err != nil {
		return fmt.Errorf("tag %q: root: %w", t.Name, err)
	}
	if y := t.Expires.UTC().Year(); !t.Expires.IsZero() && (y < 1 || y > 9999) {
		return fmt.Errorf("tag %q: expires %v: %w", t.Name, t.Expires, ErrTagExpires)
	}
	return nil
}

// Expect is what a conditional Set or Delete requires of a tag's current
// value. The zero Expect (ExpectAny) makes the call unconditional.
type Expect struct {
	kind expectKind
	root Node
	// expires and updated: what ExpectTag also requires.
	expires, updated time.Time
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectAbsent
	expectRoot
	expectTag
)

// ExpectAny makes Set and Delete unconditional.
var ExpectAny = Expect{}

// ExpectAbsent requires that no tag of the name is stored (an expired one
// counts as stored).
func ExpectAbsent() Expect { return Expect{kind: expectAbsent} }

// ExpectRoot requires that the stored tag names root (Node.Equal).
func ExpectRoot(root Node) Expect { return Expect{kind: expectRoot, root: root} }

// ExpectTag requires that the stored tag is t as read: the same root,
// expiry and Updated stamp. Garbage collection deletes an expired tag so:
// a writer that sets the tag again meanwhile, even to the same root,
// wins. To a service that only looks at Root it is ExpectRoot(t.Root).
func ExpectTag(t Tag) Expect {
	return Expect{kind: expectTag, root: t.Root, expires: t.Expires, updated: t.Updated}
}

// Holds reports whether the current value meets the expectation: cur is
// the stored tag, or nil if there is none. Implementations call it inside
// whatever makes their read-compare-write atomic.
func (e Expect) Holds(cur *Tag) bool {
	switch e.kind {
	case expectAbsent:
		return cur == nil
	case expectRoot:
		return cur != nil && cur.Root.Equal(e.root)
	case expectTag:
		return cur != nil && cur.Root.Equal(e.root) && cur.Expires.Equal(e.expires) && cur.Updated.Equal(e.updated)
	default:
		return true
	}
}

// IsAny reports whether the expectation is unconditional.
func (e Expect) IsAny() bool { return e.kind == expectAny }

// Absent reports whether the expectation is that no tag is stored.
func (e Expect) Absent() bool { return e.kind == expectAbsent }

// Root returns the root an ExpectRoot (or ExpectTag) requires, and
// whether it is one.
func (e Expect) Root() (Node, bool) { return e.root, e.kind == expectRoot || e.kind == expectTag }

// Tag returns the expiry and Updated stamp an ExpectTag also requires, and
// whether it is one.
func (e Expect) Tag() (expires, updated time.Time, ok bool) {
	return e.expires, e.updated, e.kind == expectTag
}

// String describes the expectation for error messages.
func (e Expect) String() string {
	switch e.kind {
	case expectAbsent:
		return "absent"
	case expectRoot:
		return "root " + e.root.Digest.String()
	case expectTag:
		return "root " + e.root.Digest.String() + " updated " + e.updated.UTC().Format(time.RFC3339Nano)
	default:
		return "any"
	}
}

// RefService stores tags: named roots that garbage collection keeps alive.
//
// Implementations must:
//   - refuse an invalid name or root with an error wrapping ErrInvalid
//     (Tag.Validate, ValidateTagName, ValidateTagPrefix);
//   - return an error wrapping ErrNotFound from Get and from an
//     unconditional Delete of a missing tag;
//   - make a conditional Set or Delete atomic: of any number of concurrent
//     callers expecting the same current value, exactly one succeeds and
//     the others get an error wrapping ErrConflict, and nothing is lost
//     silently;
//   - stamp Updated on Set with the service's clock.
//
// A RefService stores names only. That a tag's root closure is complete
// (every directory and blob present) is checked by the composition that
// pairs it with directory and blob services, before Set.
type RefService interface {
	// Get returns the tag, expired or not.
	Get(ctx context.Context, name string) (Tag, error)
	// Set stores t if the current value meets expect, and returns the tag
	// as stored (with Updated set).
	Set(ctx context.Context, t Tag, expect Expect) (Tag, error)
	// Delete removes the tag if the current value meets expect. A
	// conditional Delete of a missing tag fails with ErrConflict unless
	// expect is ExpectAbsent, which a missing tag meets.
	Delete(ctx context.Context, name string, expect Expect) error
	// List yields every tag whose name starts with prefix, expired ones
	// too, in name order. It stops after an error.
	List(ctx context.Context, prefix string) iter.Seq2[Tag, error]
}
