package castore

import (
	"bytes"
	"fmt"
	"strings"
)

// MaxNameLen is the longest name a Directory entry may have (Linux's limit).
const MaxNameLen = 255

// MaxSymlinkTargetLen is the longest symlink target (Linux's PATH_MAX - 1).
const MaxSymlinkTargetLen = 4095

// PathComponent is one name inside a Directory: 1..255 bytes, no '/', no NUL,
// not "." or "..". Construct it with NewPathComponent; a Directory validates
// every name it is given, however it was made.
type PathComponent string

// NewPathComponent validates name and returns it as a PathComponent.
func NewPathComponent(name string) (PathComponent, error) {
	if err := ValidateName([]byte(name)); err != nil {
		return "", err
	}
	return PathComponent(name), nil
}

// ValidateName checks the rules of a PathComponent and returns a
// *ValidationError naming the input and the rule it breaks.
func ValidateName(name []byte) error {
	if rule := nameRule(name); rule != nil {
		return invalid(name, rule)
	}
	return nil
}

func nameRule(name []byte) error {
	switch {
	case len(name) == 0:
		return ErrNameEmpty
	case len(name) == 1 && name[0] == '.':
		return ErrNameDot
	case len(name) == 2 && name[0] == '.' && name[1] == '.':
		return ErrNameDotDot
	case len(name) > MaxNameLen:
		return ErrNameTooLong
	case bytes.IndexByte(name, 0) >= 0:
		return ErrNameNUL
	case bytes.IndexByte(name, '/') >= 0:
		return ErrNameSlash
	}
	return nil
}

// ValidateSymlinkTarget checks a symlink target: 1..4095 bytes, no NUL. Any
// other bytes, absolute paths and ".." included, are allowed: castore stores
// symlinks, it never follows them.
func ValidateSymlinkTarget(target []byte) error {
	switch {
	case len(target) == 0:
		return invalid(target, ErrSymlinkTargetEmpty)
	case len(target) > MaxSymlinkTargetLen:
		return invalid(target[:64], ErrSymlinkTargetLength)
	case bytes.IndexByte(target, 0) >= 0:
		return invalid(target, ErrSymlinkTargetNUL)
	}
	return nil
}

// Path is a relative path of PathComponents joined by '/'. The empty Path is
// the root. It never has a leading or trailing slash or empty components.
type Path string

// ParsePath validates s as a Path. Leading, trailing and doubled slashes are
// refused rather than cleaned: a path that is not already canonical is
// probably not what the caller meant.
func ParsePath(s string) (Path, error) {
	if s == "" {
		return "", nil
	}
	for c := range strings.SplitSeq(s, "/") {
		if rule := nameRule([]byte(c)); rule != nil {
			return "", &ValidationError{Name: s, Err: fmt.Errorf("%w: component %q: %w", ErrPathInvalid, c, rule)}
		}
	}
	return Path(s), nil
}

// Components returns the names along p, root first. The root has none.
func (p Path) Components() []PathComponent {
	if p == "" {
		return nil
	}
	parts := strings.Split(string(p), "/")
	out := make([]PathComponent, len(parts))
	for i, s := range parts {
		out[i] = PathComponent(s)
	}
	return out
}

// Join appends a name to p.
func (p Path) Join(name PathComponent) Path {
	if p == "" {
		return Path(name)
	}
	return p + "/" + Path(name)
}

// Split returns p's parent and its last component. The root has neither.
func (p Path) Split() (Path, PathComponent) {
	i := strings.LastIndexByte(string(p), '/')
	if i < 0 {
		return "", PathComponent(p)
	}
	return p[:i], PathComponent(p[i+1:])
}
