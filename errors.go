package castore

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned (possibly wrapped) when a blob, chunk or directory
// is not present in a store. Test for it with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrInvalid is wrapped by every validation error of the model: bad digests,
// names, symlink targets, directories and closures. Test for it with
// errors.Is; test for a specific rule with the Err* values below.
var ErrInvalid = errors.New("invalid")

// ErrCorrupt is wrapped when stored bytes do not match the digest they are
// stored under, or cannot be decoded: the data went bad at rest or in
// transit, as opposed to ErrInvalid, which blames the request.
var ErrCorrupt = errors.New("corrupt data")

// ErrIncomplete is wrapped when a directory names a blob the blob service
// lacks, or has with another size: a closure accepted so would be a root
// without its data. It blames neither the bytes nor the request's form but
// the state of the store, which uploading the blobs first changes.
var ErrIncomplete = errors.New("incomplete closure")

// ErrUnavailable is wrapped when a service could not be reached, or
// could not answer for now (gRPC's UNAVAILABLE: a frontend gone, its
// backend failing): the same call may succeed if made again. Clients
// make reads again themselves; a write is never sent twice by the
// service, only by a caller that holds the data (an import).
var ErrUnavailable = errors.New("unavailable")

// ErrUnsupported is wrapped when a service refuses an optional capability
// (see CompressedChunkReader and the others beside it). It is
// errors.ErrUnsupported, so either name tests for it.
var ErrUnsupported = errors.ErrUnsupported

// invalidError is a validation rule. It matches ErrInvalid under errors.Is,
// so callers can test for the rule or for invalidity in general.
type invalidError string

func (e invalidError) Error() string        { return string(e) }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

// The validation rules. Each is returned wrapped in a *ValidationError that
// names the offending entry.
var (
	ErrDigestLength        error = invalidError("digest is not 32 bytes")
	ErrDigestFormat        error = invalidError("digest is not b3:<base64> or 64 hex characters")
	ErrNameEmpty           error = invalidError("name is empty")
	ErrNameDot             error = invalidError("name is \".\"")
	ErrNameDotDot          error = invalidError("name is \"..\"")
	ErrNameSlash           error = invalidError("name contains a slash")
	ErrNameNUL             error = invalidError("name contains a NUL byte")
	ErrNameTooLong         error = invalidError("name is longer than 255 bytes")
	ErrSymlinkTargetEmpty  error = invalidError("symlink target is empty")
	ErrSymlinkTargetNUL    error = invalidError("symlink target contains a NUL byte")
	ErrSymlinkTargetLength error = invalidError("symlink target is longer than 4095 bytes")
	ErrWrongSorting        error = invalidError("entries are not sorted by name")
	ErrDuplicateName       error = invalidError("name is used more than once")
	ErrSizeOverflow        error = invalidError("directory size overflows uint64")
	ErrNoNodeSet           error = invalidError("node has no type set")
	ErrNotCanonical        error = invalidError("encoding is not canonical")
	ErrPathInvalid         error = invalidError("path is not a relative path of valid names")
)

// ValidationError says which entry broke which rule.
type ValidationError struct {
	// Name is the entry (or the input) the rule was applied to. It may hold
	// arbitrary bytes; Error quotes it.
	Name string
	// Err is one of the Err* rules above (or a wrapped lower-level error).
	Err error
}

func (e *ValidationError) Error() string {
	if e.Name == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%q: %v", e.Name, e.Err)
}

func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(name []byte, rule error) error {
	return &ValidationError{Name: string(name), Err: rule}
}
