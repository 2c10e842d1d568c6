package closure

import (
	"fmt"

	"github.com/castore-go/castore"
)

// LeavesFirstValidator checks a closure sent leaves first, as a putter
// receives it: every directory may refer only to directories already
// added, with the sizes they have; at the end there is exactly one root
// (the last directory) from which every directory added is reachable.
// Directories added twice are kept once. Errors wrap castore.ErrInvalid and
// name the directory.
type LeavesFirstValidator struct {
	sizes map[castore.Digest]uint64
	order []*castore.Directory // first occurrences, leaves first
	last  castore.Digest
}

// NewLeavesFirstValidator returns an empty validator.
func NewLeavesFirstValidator() *LeavesFirstValidator {
	return &LeavesFirstValidator{sizes: map[castore.Digest]uint64{}}
}

// Invalid is the error of a closure refused because of directory d: a
// castore.ValidationError naming d, wrapping castore.ErrInvalid.
func Invalid(d castore.Digest, format string, args ...any) error {
	return &castore.ValidationError{Name: d.String(), Err: fmt.Errorf("%w: %s", castore.ErrInvalid, fmt.Sprintf(format, args...))}
}

// CheckChildren checks the subdirectories dir refers to against the
// directories there are: have returns the size of directory c and
// whether it is there (for a store, stored; for a putter, sent before).
// An entry naming a directory that is not there, or giving it another
// size than it has, is an Invalid error naming dir and the entry, saying
// the first with absent ("is not stored"). An error of have is returned
// as it is. A file larger than castore.MaxFileSize is Invalid too: no
// store can hold it, nor any reader read it.
func CheckChildren(dir *castore.Directory, absent string, have func(c castore.Digest) (size uint64, ok bool, err error)) error {
	for _, e := range dir.Entries() {
		if e.Node.Type == castore.NodeFile && e.Node.Size > castore.MaxFileSize {
			return tooLarge(dir, e)
		}
		if e.Node.Type != castore.NodeDirectory {
			continue
		}
		size, ok, err := have(e.Node.Digest)
		switch {
		case err != nil:
			return err
		case !ok:
			return Invalid(dir.Digest(), "entry %q refers to directory %s, which %s", e.Name, e.Node.Digest, absent)
		case size != e.Node.Size:
			return Invalid(dir.Digest(), "entry %q gives directory %s size %d, its size is %d", e.Name, e.Node.Digest, e.Node.Size, size)
		}
	}
	return nil
}

// tooLarge is the error of file entry e of dir, larger than any store
// holds.
func tooLarge(dir *castore.Directory, e castore.Entry) error {
	return Invalid(dir.Digest(), "entry %q gives file %s size %d, more than the %d bytes a file may have", e.Name, e.Node.Digest, e.Node.Size, uint64(castore.MaxFileSize))
}

// Add checks the next directory and reports whether it is new.
func (v *LeavesFirstValidator) Add(dir *castore.Directory) (bool, error) {
	d := dir.Digest()
	v.last = d
	if _, dup := v.sizes[d]; dup {
		return false, nil
	}
	err := CheckChildren(dir, "was not sent before it", func(c castore.Digest) (uint64, bool, error) {
		size, ok := v.sizes[c]
		return size, ok, nil
	})
	if err != nil {
		return false, err
	}
	v.sizes[d] = dir.Size()
	v.order = append(v.order, dir)
	return true, nil
}

// Finish checks that the closure is complete and connected, and returns
// the root and the directories leaves first, each once.
func (v *LeavesFirstValidator) Finish() (castore.Digest, []*castore.Directory, error) {
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
				return castore.Digest{}, nil, Invalid(dg, "not reachable from the root %s: the closure is disconnected", root)
			}
		}
	}
	return root, v.order, nil
}

// RootFirstValidator checks a closure as it is read, root first: the
// first directory must be the root, and every later one must have been
// referred to by an earlier one, with the size it gives, and come once.
// Expect checks a digest before its bytes are decoded, so nothing foreign
// is even parsed. Errors wrap castore.ErrCorrupt and name the directory.
type RootFirstValidator struct {
	root   castore.Digest
	expect map[castore.Digest]uint64 // referred to, not yet read
	seen   map[castore.Digest]bool
}

// NewRootFirstValidator returns a validator for the closure of root.
func NewRootFirstValidator(root castore.Digest) *RootFirstValidator {
	return &RootFirstValidator{root: root, expect: map[castore.Digest]uint64{root: 0}, seen: map[castore.Digest]bool{}}
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", castore.ErrCorrupt, fmt.Sprintf(format, args...))
}

// Expect reports whether a directory with digest d may come next.
func (v *RootFirstValidator) Expect(d castore.Digest) error {
	if _, ok := v.expect[d]; ok {
		return nil
	}
	if v.seen[d] {
		return corrupt("directory %s comes twice", d)
	}
	if len(v.seen) == 0 {
		return corrupt("directory %s comes first instead of the root %s", d, v.root)
	}
	return corrupt("directory %s is one nothing before it refers to", d)
}

// Add checks the next directory and records what it refers to.
func (v *RootFirstValidator) Add(dir *castore.Directory) error {
	return v.AddWithDigest(dir.Digest(), dir)
}

// AddWithDigest is Add for a directory whose digest d the caller has
// computed already, saving its encoding and hashing again: a directory
// just decoded by castore.UnmarshalDirectory, which accepts only the
// canonical encoding, has the digest of its bytes. d must be dir's digest.
func (v *RootFirstValidator) AddWithDigest(d castore.Digest, dir *castore.Directory) error {
	if err := v.Expect(d); err != nil {
		return err
	}
	if size := v.expect[d]; d != v.root && dir.Size() != size {
		return corrupt("directory %s has size %d, its parent says %d", d, dir.Size(), size)
	}
	delete(v.expect, d)
	v.seen[d] = true
	for _, e := range dir.Entries() {
		if e.Node.Type != castore.NodeDirectory || v.seen[e.Node.Digest] {
			continue
		}
		if s, ok := v.expect[e.Node.Digest]; ok && s != e.Node.Size {
			return corrupt("directory %s is referred to with sizes %d and %d", e.Node.Digest, s, e.Node.Size)
		}
		v.expect[e.Node.Digest] = e.Node.Size
	}
	return nil
}

// Finish reports whether the closure is complete. A closure of which
// nothing was read is complete (an unknown root).
func (v *RootFirstValidator) Finish() error {
	if len(v.seen) > 0 && len(v.expect) > 0 {
		return corrupt("the closure of %s lacks %d directories", v.root, len(v.expect))
	}
	return nil
}

// Len is the number of directories accepted so far.
func (v *RootFirstValidator) Len() int { return len(v.seen) }
