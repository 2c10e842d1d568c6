package castore

import (
	"bytes"
	"fmt"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
)

// The canonical encoding of a Directory is the protobuf encoding of
// tvix.castore.v1.Directory with fields in field-number order and proto3
// defaults omitted: first every DirectoryNode (field 1), then every FileNode
// (field 2), then every SymlinkNode (field 3), each list sorted by name.
// It is written here directly, without reflection; the tests hold it equal
// to proto.MarshalOptions{Deterministic: true} on the generated types.

// Field numbers inside the node messages.
const (
	fieldName       = 1
	fieldDigest     = 2
	fieldTarget     = 2
	fieldSize       = 3
	fieldExecutable = 4
)

func nodeMsgLen(e *Entry) int {
	n := protowire.SizeTag(fieldName) + protowire.SizeBytes(len(e.Name))
	switch e.Node.Type {
	case NodeDirectory, NodeFile:
		n += protowire.SizeTag(fieldDigest) + protowire.SizeBytes(DigestSize)
		if e.Node.Size != 0 {
			n += protowire.SizeTag(fieldSize) + protowire.SizeVarint(e.Node.Size)
		}
		if e.Node.Type == NodeFile && e.Node.Executable {
			n += protowire.SizeTag(fieldExecutable) + 1
		}
	case NodeSymlink:
		n += protowire.SizeTag(fieldTarget) + protowire.SizeBytes(len(e.Node.Target))
	}
	return n
}

func (d *Directory) encodedLen() int {
	n := 0
	for i := range d.entries {
		n += protowire.SizeTag(1) + protowire.SizeBytes(nodeMsgLen(&d.entries[i]))
	}
	return n
}

// Marshal returns the canonical encoding of d.
func (d *Directory) Marshal() []byte {
	return d.AppendMarshal(make([]byte, 0, d.encodedLen()))
}

// AppendMarshal appends the canonical encoding of d to b.
func (d *Directory) AppendMarshal(b []byte) []byte {
	for _, t := range [...]NodeType{NodeDirectory, NodeFile, NodeSymlink} {
		for i := range d.entries {
			e := &d.entries[i]
			if e.Node.Type != t {
				continue
			}
			b = protowire.AppendTag(b, protowire.Number(t), protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(nodeMsgLen(e)))
			b = protowire.AppendTag(b, fieldName, protowire.BytesType)
			b = protowire.AppendString(b, string(e.Name))
			if t == NodeSymlink {
				b = protowire.AppendTag(b, fieldTarget, protowire.BytesType)
				b = protowire.AppendString(b, e.Node.Target)
				continue
			}
			b = protowire.AppendTag(b, fieldDigest, protowire.BytesType)
			b = protowire.AppendBytes(b, e.Node.Digest[:])
			if e.Node.Size != 0 {
				b = protowire.AppendTag(b, fieldSize, protowire.VarintType)
				b = protowire.AppendVarint(b, e.Node.Size)
			}
			if t == NodeFile && e.Node.Executable {
				b = protowire.AppendTag(b, fieldExecutable, protowire.VarintType)
				b = protowire.AppendVarint(b, 1)
			}
		}
	}
	return b
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf(n int) *[]byte {
	p := bufPool.Get().(*[]byte)
	if cap(*p) < n {
		*p = make([]byte, 0, n)
	}
	return p
}

func putBuf(p *[]byte) {
	if cap(*p) <= 1<<20 {
		bufPool.Put(p)
	}
}

// UnmarshalDirectory decodes and validates untrusted bytes as a Directory.
// It accepts only the canonical encoding, so a Directory that decodes here
// re-encodes to exactly b and its Digest is the BLAKE3 of b. Validation
// errors wrap ErrInvalid and name the entry; bytes that are not a protobuf
// Directory at all, or not in canonical form, wrap ErrNotCanonical.
func UnmarshalDirectory(b []byte) (*Directory, error) {
	if len(b) == 0 {
		return &Directory{}, nil
	}
	// Names and targets are substrings of one copy of the input: one
	// allocation instead of one per entry.
	src := string(b)
	all := make([]Entry, 0, len(b)/48+1)
	var bounds [4]int // bounds[t] = index in all where type t ends
	last := NodeDirectory
	for off := 0; off < len(src); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return nil, wireErr("directory", protowire.ParseError(n))
		}
		off += n
		t := NodeType(num)
		if (t != NodeDirectory && t != NodeFile && t != NodeSymlink) || typ != protowire.BytesType {
			return nil, &ValidationError{Err: fmt.Errorf("%w: unexpected field %d of wire type %d in directory", ErrNotCanonical, num, typ)}
		}
		if t < last {
			return nil, &ValidationError{Err: fmt.Errorf("%w: %s node after %s nodes", ErrNotCanonical, t, last)}
		}
		for ; last < t; last++ {
			bounds[last] = len(all)
		}
		msgLen, n := protowire.ConsumeVarint(b[off:])
		if n < 0 || msgLen > uint64(len(b)-off-n) {
			return nil, wireErr("directory", protowire.ParseError(n))
		}
		off += n
		e, err := decodeNode(t, b, src, off, off+int(msgLen))
		if err != nil {
			return nil, err
		}
		off += int(msgLen)
		all = append(all, e)
	}
	for ; last <= NodeSymlink; last++ {
		bounds[last] = len(all)
	}

	d, err := DirectoryFromLists(all[:bounds[NodeDirectory]], all[bounds[NodeDirectory]:bounds[NodeFile]], all[bounds[NodeFile]:bounds[NodeSymlink]])
	if err != nil {
		return nil, err
	}

	// Only the canonical encoding is accepted: compare against it.
	if d.encodedLen() != len(b) {
		return nil, &ValidationError{Err: fmt.Errorf("%w: directory encoding has %d bytes, canonical has %d", ErrNotCanonical, len(b), d.encodedLen())}
	}
	buf := getBuf(len(b))
	enc := d.AppendMarshal((*buf)[:0])
	same := bytes.Equal(enc, b)
	*buf = enc
	putBuf(buf)
	if !same {
		return nil, &ValidationError{Err: fmt.Errorf("%w: directory fields are out of order, repeated or hold defaults", ErrNotCanonical)}
	}
	return d, nil
}

func wireErr(what string, err error) error {
	return &ValidationError{Err: fmt.Errorf("%w: %s: %v", ErrNotCanonical, what, err)}
}

// decodeNode decodes one DirectoryNode, FileNode or SymlinkNode message,
// b[start:end]; strings it returns are substrings of src, which is b as a
// string.
// Later occurrences of a field overwrite earlier ones, as in protobuf; the
// canonical comparison afterwards refuses such encodings.
func decodeNode(t NodeType, b []byte, src string, start, end int) (Entry, error) {
	var (
		name, digest, target string
		size, exec           uint64
		hasDigest            bool
	)
	msg := b[start:end]
	pos := start
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return Entry{}, wireErr(t.String()+" node", protowire.ParseError(n))
		}
		msg, pos = msg[n:], pos+n
		var field *string
		switch {
		case num == fieldName && typ == protowire.BytesType:
			field = &name
		case num == fieldDigest && typ == protowire.BytesType && t != NodeSymlink:
			field = &digest
			hasDigest = true
		case num == fieldTarget && typ == protowire.BytesType && t == NodeSymlink:
			field = &target
		case num == fieldSize && typ == protowire.VarintType && t != NodeSymlink:
			size, n = protowire.ConsumeVarint(msg)
		case num == fieldExecutable && typ == protowire.VarintType && t == NodeFile:
			exec, n = protowire.ConsumeVarint(msg)
		default:
			return Entry{}, &ValidationError{Name: name, Err: fmt.Errorf("%w: unexpected field %d of wire type %d in %s node", ErrNotCanonical, num, typ, t)}
		}
		if field != nil {
			var l uint64
			l, n = protowire.ConsumeVarint(msg)
			if n >= 0 && l > uint64(len(msg)-n) {
				n = -1
			}
			if n >= 0 {
				*field = src[pos+n : pos+n+int(l)]
				n += int(l)
			}
		}
		if n < 0 {
			return Entry{}, wireErr(t.String()+" node", protowire.ParseError(n))
		}
		msg, pos = msg[n:], pos+n
	}
	if rule := nameRule([]byte(name)); rule != nil {
		return Entry{}, &ValidationError{Name: name, Err: rule}
	}
	e := Entry{Name: PathComponent(name), Node: Node{Type: t}}
	switch t {
	case NodeSymlink:
		if err := ValidateSymlinkTarget([]byte(target)); err != nil {
			return Entry{}, &ValidationError{Name: name, Err: err}
		}
		e.Node.Target = target
	default:
		if !hasDigest || len(digest) != DigestSize {
			return Entry{}, &ValidationError{Name: name, Err: fmt.Errorf("%w (got %d)", ErrDigestLength, len(digest))}
		}
		copy(e.Node.Digest[:], digest)
		e.Node.Size = size
		e.Node.Executable = exec != 0
	}
	return e, nil
}
