package packstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// A pack is a sequence of records, then, once sealed, a trailer:
//
//	record:  magic u32 | crc u32 | kind u8 | key length u16 | value length u32 | key | value
//	trailer: entries... | entry count u32 | records' end u64 | crc u32 | trailer length u32 | trailer magic u32
//	entry:   kind u8 | key length u16 | key | value offset u64 | value length u32
//
// All integers are big-endian; crc is CRC-32C (Castagnoli) over
// everything after it in the record (kind through value), or over the
// trailer before it.
const (
	recordMagic   = 0x63617331 // "cas1"
	trailerMagic  = 0x63617354 // "casT"
	recordHeader  = 4 + 4 + 1 + 2 + 4
	trailerFooter = 4 + 8 + 4 + 4 + 4
	kindPut       = 1
	kindDelete    = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// trailerEntry is one record as a trailer (and the index) sees it: off is
// the offset of its value in the pack.
type trailerEntry struct {
	kind uint8
	key  string
	off  int64
	n    uint32
}

// encodeRecord returns the record of a put (or delete) of key.
func encodeRecord(kind uint8, key string, value []byte) []byte {
	b := make([]byte, recordHeader+len(key)+len(value))
	copy(b[recordHeader+len(key):], value)
	sealRecord(b, kind, key)
	return b
}

// sealRecord fills in the header and key of record b, whose value
// follows them already.
func sealRecord(b []byte, kind uint8, key string) {
	binary.BigEndian.PutUint32(b[0:], recordMagic)
	b[8] = kind
	binary.BigEndian.PutUint16(b[9:], uint16(len(key)))
	binary.BigEndian.PutUint32(b[11:], uint32(len(b)-recordHeader-len(key)))
	copy(b[recordHeader:], key)
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
}

// errTooLarge is a value beyond what a record holds.
var errTooLarge = fmt.Errorf("larger than %d bytes", int64(maxValue))

// readPutRecord reads r whole into the record of a put of key: straight
// into the record's buffer, which for a reader that tells its length
// (Len: a bytes.Reader, a chunk store's chunk) is made once at its size,
// so the bytes are copied once. (Reading the value first and copying it
// into a record made its bytes three to six times over: io.ReadAll's
// growing buffer, then the record.)
func readPutRecord(key string, r io.Reader) ([]byte, error) {
	head := recordHeader + len(key)
	want := 512
	if l, ok := r.(interface{ Len() int }); ok {
		want = l.Len() + 1 // the 1: room for the read that says EOF
	}
	b := make([]byte, head, head+min(want, maxValue+1))
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b)-head > maxValue {
			return nil, errTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	sealRecord(b, kindPut, key)
	return b, nil
}

var errTorn = errors.New("torn or damaged record")

// readRecord reads the next record, checking it. Its entry's off is
// relative to the record's start. io.EOF means a clean end; errTorn (or
// io.ErrUnexpectedEOF) a record that was never written whole.
func readRecord(r io.Reader) (trailerEntry, error) {
	var h [recordHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF {
			return trailerEntry{}, io.EOF
		}
		return trailerEntry{}, errTorn
	}
	if binary.BigEndian.Uint32(h[0:]) != recordMagic || (h[8] != kindPut && h[8] != kindDelete) {
		return trailerEntry{}, errTorn
	}
	kl := int(binary.BigEndian.Uint16(h[9:]))
	vl := binary.BigEndian.Uint32(h[11:])
	crc := crc32.Update(0, castagnoli, h[8:])
	body := make([]byte, kl+int(vl))
	if _, err := io.ReadFull(r, body); err != nil {
		return trailerEntry{}, errTorn
	}
	if crc32.Update(crc, castagnoli, body) != binary.BigEndian.Uint32(h[4:]) {
		return trailerEntry{}, errTorn
	}
	return trailerEntry{kind: h[8], key: string(body[:kl]), off: int64(recordHeader + kl), n: vl}, nil
}

// encodeTrailer returns the trailer of a pack whose records end at end.
func encodeTrailer(entries []trailerEntry, end int64) []byte {
	var b []byte
	for _, e := range entries {
		b = append(b, e.kind)
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.key)))
		b = append(b, e.key...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.off))
		b = binary.BigEndian.AppendUint32(b, e.n)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	b = binary.BigEndian.AppendUint64(b, uint64(end))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	b = binary.BigEndian.AppendUint32(b, uint32(len(b)+8))
	return binary.BigEndian.AppendUint32(b, trailerMagic)
}

// readTrailer reads a sealed pack's trailer: its entries and the pack's
// size. sealed is false for a pack without a valid trailer.
func readTrailer(f *os.File) (entries []trailerEntry, size int64, sealed bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, false, err
	}
	size = fi.Size()
	if size < trailerFooter {
		return nil, 0, false, nil
	}
	var foot [8]byte
	if _, err := f.ReadAt(foot[:], size-8); err != nil {
		return nil, 0, false, err
	}
	tl := int64(binary.BigEndian.Uint32(foot[0:]))
	if binary.BigEndian.Uint32(foot[4:]) != trailerMagic || tl < trailerFooter || tl > size {
		return nil, 0, false, nil
	}
	t := make([]byte, tl)
	if _, err := f.ReadAt(t, size-tl); err != nil {
		return nil, 0, false, err
	}
	body := t[:len(t)-12]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(t[len(t)-12:]) {
		return nil, 0, false, nil
	}
	count := binary.BigEndian.Uint32(body[len(body)-12:])
	end := int64(binary.BigEndian.Uint64(body[len(body)-8:]))
	if end != size-tl {
		return nil, 0, false, nil
	}
	p := body[:len(body)-12]
	for range count {
		if len(p) < 3 {
			return nil, 0, false, fmt.Errorf("trailer: cut short")
		}
		kind := p[0]
		kl := int(binary.BigEndian.Uint16(p[1:]))
		if len(p) < 3+kl+12 {
			return nil, 0, false, fmt.Errorf("trailer: cut short")
		}
		e := trailerEntry{kind: kind, key: string(p[3 : 3+kl])}
		e.off = int64(binary.BigEndian.Uint64(p[3+kl:]))
		e.n = binary.BigEndian.Uint32(p[3+kl+8:])
		if e.off < 0 || e.off+int64(e.n) > end {
			return nil, 0, false, fmt.Errorf("trailer: entry %q outside the pack", e.key)
		}
		entries = append(entries, e)
		p = p[3+kl+12:]
	}
	if len(p) != 0 {
		return nil, 0, false, fmt.Errorf("trailer: %d bytes left over", len(p))
	}
	return entries, size, true, nil
}

// countingReader counts what it has read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func bufioReader(f *os.File) io.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 1<<20)
}
