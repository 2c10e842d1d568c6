package objectstore

import (
	"context"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/castore-go/castore"
)

// MaxKeyLen is the longest key in bytes, the limit of S3 and GCS.
const MaxKeyLen = 1024

// InvalidKeyError says why a key or prefix was refused. It matches
// castore.ErrInvalid under errors.Is. A backend with a rule of its own (the
// file store's temporary names) refuses keys with it too.
type InvalidKeyError string

func (e InvalidKeyError) Error() string        { return "invalid key: " + string(e) }
func (e InvalidKeyError) Is(target error) bool { return target == castore.ErrInvalid }

// CheckKey reports whether every backend can store key: 1..MaxKeyLen bytes
// of valid UTF-8 without control characters, '/'-separated components that
// are neither empty, "." nor "..". So a key never starts or ends with '/'
// and maps to the same path on a file system as in a bucket. The error
// matches castore.ErrInvalid.
func CheckKey(key string) error {
	if key == "" {
		return InvalidKeyError("empty")
	}
	if len(key) > MaxKeyLen {
		return InvalidKeyError("longer than 1024 bytes")
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

// CheckPrefix accepts a List prefix: anything a valid key can start with.
// Every component followed by '/' must be a valid component; the last,
// partial one is only a filter and may be empty.
func CheckPrefix(prefix string) error {
	if len(prefix) > MaxKeyLen {
		return InvalidKeyError("prefix longer than 1024 bytes")
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
		return InvalidKeyError("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return InvalidKeyError("contains a control character")
		}
	}
	return nil
}

func checkComponent(c string) error {
	switch c {
	case "":
		return InvalidKeyError("has an empty path component")
	case ".", "..":
		return InvalidKeyError(`has a "." or ".." path component`)
	}
	return nil
}

// ContextReader returns a reader that fails once ctx is done, so a put
// that is still reading stops soon after its context is cancelled,
// whatever r does. It hides r's other methods (Len, Seek): a backend that
// uses them passes r on as is.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return ctxReader{ctx, r}
}

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
