package objectstore

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/castore-go/castore"
)

// MaxKeyLen is the longest key in bytes, the limit of S3 and GCS.
const MaxKeyLen = 1024

// invalidKeyError says why a key or prefix was refused. It matches
// castore.ErrInvalid under errors.Is.
type invalidKeyError string

func (e invalidKeyError) Error() string        { return "invalid key: " + string(e) }
func (e invalidKeyError) Is(target error) bool { return target == castore.ErrInvalid }

// CheckKey reports whether every backend can store key: 1..MaxKeyLen bytes
// of valid UTF-8 without control characters, '/'-separated components that
// are neither empty, "." nor "..". So a key never starts or ends with '/'
// and maps to the same path on a file system as in a bucket. The error
// matches castore.ErrInvalid.
func CheckKey(key string) error {
	if key == "" {
		return invalidKeyError("empty")
	}
	if len(key) > MaxKeyLen {
		return invalidKeyError("longer than 1024 bytes")
	}
	if err := checkChars(key); err != nil {
		return err
	}
	for c := range strings.SplitSeq(key, "/") {
		if err := checkComponent(c); err != nil {
			return err
		}
	}
	return nil
}

// checkPrefix accepts a List prefix: anything a valid key can start with.
// Every component followed by '/' must be a valid component; the last,
// partial one is only a filter and may be empty.
func checkPrefix(prefix string) error {
	if len(prefix) > MaxKeyLen {
		return invalidKeyError("prefix longer than 1024 bytes")
	}
	if err := checkChars(prefix); err != nil {
		return err
	}
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		for c := range strings.SplitSeq(prefix[:i], "/") {
			if err := checkComponent(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkChars(s string) error {
	if !utf8.ValidString(s) {
		return invalidKeyError("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalidKeyError("contains a control character")
		}
	}
	return nil
}

func checkComponent(c string) error {
	switch c {
	case "":
		return invalidKeyError("has an empty path component")
	case ".", "..":
		return invalidKeyError(`has a "." or ".." path component`)
	}
	return nil
}

// ctxReader fails once ctx is done, so a put that is still reading stops
// soon after its context is cancelled, whatever the underlying reader does.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// check is the common preamble of every keyed call: a valid key and a live
// context.
func check(ctx context.Context, op, key string) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("%s %q: %w", op, key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %q: %w", op, key, err)
	}
	return nil
}
