// Package dirstore holds castore's DirectoryService implementations and the
// validation of directory closures.
package dirstore

import (
	"errors"
	"fmt"

	"github.com/castore-go/castore"
)

// ClosureValidator checks a closure sent leaves first, as a putter
// receives it: every directory may refer only to directories already
// added, with the sizes they have; at the end there is exactly one root
// (the last directory) from which every directory added is reachable.
// Directories added twice are kept once. Errors wrap castore.ErrInvalid and
// name the directory.
type ClosureValidator struct {
	sizes map[castore.Digest]uint64
	order []*castore.Directory // first occurrences, leaves first
	last  castore.Digest
}

// NewClosureValidator returns an empty validator.
func NewClosureValidator() *ClosureValidator {
	return &ClosureValidator{sizes: map[castore.Digest]uint64{}}
}

func invalidClosure(d castore.Digest, format string, args ...any) error {
	return &castore.ValidationError{Name: d.String(), Err: fmt.Errorf("%w: %s", castore.ErrInvalid, fmt.Sprintf(format, args...))}
}

// Add checks the next directory and reports whether it is new.
func (v *ClosureValidator) Add(dir *castore.Directory) (bool, error) {
	d := dir.Digest()
	v.last = d
	if _, dup := v.sizes[d]; dup {
		return false, nil
	}
	for _, e := range dir.Entries() {
		if e.Node.Type != castore.NodeDirectory {
			continue
		}
		size, ok := v.sizes[e.Node.Digest]
		if !ok {
			return false, invalidClosure(d, "entry %q refers to directory %s, which was not sent before it", e.Name, e.Node.Digest)
		}
		if size != e.Node.Size {
			return false, invalidClosure(d, "entry %q gives directory %s size %d, its size is %d", e.Name, e.Node.Digest, e.Node.Size, size)
		}
	}
	v.sizes[d] = dir.Size()
	v.order = append(v.order, dir)
	return true, nil
}

// Finish checks that the closure is complete and connected, and returns
// the root and the directories leaves first, each once.
func (v *ClosureValidator) Finish() (castore.Digest, []*castore.Directory, error) {
	if len(v.order) == 0 {
		return castore.Digest{}, nil, &castore.ValidationError{Err: fmt.Errorf("%w: no directories were put", castore.ErrInvalid)}
	}
	root := v.last
	byDigest := make(map[castore.Digest]*castore.Directory, len(v.order))
	for _, d := range v.order {
		byDigest[d.Digest()] = d
	}
	reached := map[castore.Digest]bool{root: true}
	queue := []castore.Digest{root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for _, e := range byDigest[d].Entries() {
			if e.Node.Type == castore.NodeDirectory && !reached[e.Node.Digest] {
				reached[e.Node.Digest] = true
				queue = append(queue, e.Node.Digest)
			}
		}
	}
	if len(reached) != len(v.order) {
		for _, d := range v.order {
			if dg := d.Digest(); !reached[dg] {
				return castore.Digest{}, nil, invalidClosure(dg, "not reachable from the root %s: the closure is disconnected", root)
			}
		}
	}
	return root, v.order, nil
}

func isNotFound(err error) bool { return errors.Is(err, castore.ErrNotFound) }
