package castore

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
)

// Entry is a named Node inside a Directory.
type Entry struct {
	Name PathComponent
	Node Node
}

// Directory is a list of named nodes, sorted by the bytes of their names.
// Every Directory that exists is valid: names are valid and unique across
// the three kinds, symlink targets are valid, and Size does not overflow.
// The zero value is the empty Directory.
type Directory struct {
	entries []Entry
	size    uint64
}

// NewDirectory validates entries and returns them as a Directory. The order
// of entries does not matter; they are sorted. The slice is not retained.
func NewDirectory(entries ...Entry) (*Directory, error) {
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	d := &Directory{}
	if err := d.init(es); err != nil {
		return nil, err
	}
	return d, nil
}

// newDirectorySorted builds a Directory from entries already sorted by name,
// taking ownership of the slice.
func newDirectorySorted(es []Entry) (*Directory, error) {
	d := &Directory{}
	if err := d.init(es); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Directory) init(es []Entry) error {
	size := uint64(len(es))
	for i := range es {
		e := &es[i]
		if err := ValidateName([]byte(e.Name)); err != nil {
			return err
		}
		if i > 0 && es[i-1].Name == e.Name {
			return invalid([]byte(e.Name), ErrDuplicateName)
		}
		if err := e.Node.Validate(); err != nil {
			return &ValidationError{Name: string(e.Name), Err: err}
		}
		if e.Node.Type == NodeDirectory {
			var carry uint64
			size, carry = bits.Add64(size, e.Node.Size, 0)
			if carry != 0 {
				return invalid([]byte(e.Name), ErrSizeOverflow)
			}
		}
	}
	d.entries, d.size = es, size
	return nil
}

// Entries returns the entries sorted by name. The slice belongs to the
// Directory and must not be modified.
func (d *Directory) Entries() []Entry { return d.entries }

// Len returns the number of entries.
func (d *Directory) Len() int { return len(d.entries) }

// Lookup returns the node called name.
func (d *Directory) Lookup(name PathComponent) (Node, bool) {
	i, ok := slices.BinarySearchFunc(d.entries, name, func(e Entry, n PathComponent) int { return cmp.Compare(e.Name, n) })
	if !ok {
		return Node{}, false
	}
	return d.entries[i].Node, true
}

// Add inserts a node. It fails, leaving d unchanged, if the name is invalid
// or taken, the node is invalid, or the size would overflow.
func (d *Directory) Add(name PathComponent, n Node) error {
	i, found := slices.BinarySearchFunc(d.entries, name, func(e Entry, n PathComponent) int { return cmp.Compare(e.Name, n) })
	if found {
		return invalid([]byte(name), ErrDuplicateName)
	}
	es := slices.Insert(slices.Clip(d.entries), i, Entry{Name: name, Node: n})
	return d.init(es)
}

// Size is the number of entries plus the Size of every child directory: the
// number of nodes in the closure below this directory, counting each
// occurrence.
func (d *Directory) Size() uint64 { return d.size }

// Digest is the BLAKE3 of the canonical protobuf encoding.
func (d *Directory) Digest() Digest {
	buf := getBuf(d.encodedLen())
	b := d.AppendMarshal((*buf)[:0])
	sum := Sum(b)
	*buf = b
	putBuf(buf)
	return sum
}

// Node returns the directory Node that refers to d.
func (d *Directory) Node() Node { return DirectoryNode(d.Digest(), d.Size()) }

// Equal reports whether d and o hold the same entries.
func (d *Directory) Equal(o *Directory) bool {
	return slices.EqualFunc(d.entries, o.entries, func(a, b Entry) bool {
		return a.Name == b.Name && a.Node.Equal(b.Node)
	})
}

func (d *Directory) String() string {
	return fmt.Sprintf("Directory(%s, %d entries, size %d)", d.Digest(), len(d.entries), d.size)
}

// DirectoryFromLists builds a Directory from the three lists of the wire
// form (tvix.castore.v1.Directory): directories, files and symlinks, each
// of which must already be sorted by name, without repeats, and with entries
// of the matching type. Every rule is checked, and the error names the
// first entry that breaks one: an invalid name, wrong sorting within a list,
// a name repeated within or across the lists, an invalid node, or a size
// overflow. The slices are not retained.
func DirectoryFromLists(directories, files, symlinks []Entry) (*Directory, error) {
	lists := [...][]Entry{directories, files, symlinks}
	total := 0
	for li, l := range lists {
		want := NodeType(li + 1)
		for i := range l {
			if err := ValidateName([]byte(l[i].Name)); err != nil {
				return nil, err
			}
			if l[i].Node.Type != want {
				return nil, &ValidationError{Name: string(l[i].Name), Err: fmt.Errorf("%w: %s node in the %s list", ErrNoNodeSet, l[i].Node.Type, want)}
			}
			if i == 0 {
				continue
			}
			switch {
			case l[i].Name < l[i-1].Name:
				return nil, invalid([]byte(l[i].Name), ErrWrongSorting)
			case l[i].Name == l[i-1].Name:
				return nil, invalid([]byte(l[i].Name), ErrDuplicateName)
			}
		}
		total += len(l)
	}
	// Merge the three sorted lists; a name in two lists ends up adjacent,
	// where init reports it as a duplicate.
	merged := make([]Entry, 0, total)
	for {
		pick := -1
		for li := range lists {
			if len(lists[li]) > 0 && (pick < 0 || lists[li][0].Name < lists[pick][0].Name) {
				pick = li
			}
		}
		if pick < 0 {
			break
		}
		merged = append(merged, lists[pick][0])
		lists[pick] = lists[pick][1:]
	}
	return newDirectorySorted(merged)
}
