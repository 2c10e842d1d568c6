package chunkfmt

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// A chunk whose size is not known is read into a buffer sized by its zstd
// frame header; the header is only a hint, so frames that lie about their
// size, or several frames, still read exactly their content, and the
// limit holds whatever the header says.
func TestReadAllHinted(t *testing.T) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := bytes.Repeat([]byte("castore "), 10000)
	b := bytes.Repeat([]byte("chunk "), 30000)
	one := enc.EncodeAll(a, nil)
	two := enc.EncodeAll(b, bytes.Clone(one)) // two frames: the first names only a's size
	if got := frameContentSize(one); got != int64(len(a)) {
		t.Fatalf("frameContentSize = %d, want %d", got, len(a))
	}
	if got := frameContentSize([]byte("not zstd")); got != -1 {
		t.Fatalf("frameContentSize of garbage = %d, want -1", got)
	}
	for _, tc := range []struct {
		name        string
		comp        []byte
		want        []byte
		limit, hint int64
	}{
		{"truthful", one, a, 1 << 20, int64(len(a))},
		{"no hint", one, a, 1 << 20, -1},
		{"hint too small", one, a, 1 << 20, 10},
		{"hint zero", one, a, 1 << 20, 0},
		{"hint too large", one, a, 1 << 20, 1 << 19},
		{"two frames", two, append(bytes.Clone(a), b...), 1 << 20, int64(len(a))},
		{"hint beyond limit", one, a[:1001], 1000, 1 << 40},
		{"content beyond limit", two, append(bytes.Clone(a), b[0]), int64(len(a)), int64(len(a))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec, err := zstd.NewReader(bytes.NewReader(tc.comp))
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			got, err := readAllHinted(dec, tc.limit, tc.hint)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("read %d bytes, want %d", len(got), len(tc.want))
			}
			if int64(cap(got)) > max(tc.limit, int64(len(tc.want)))+1 {
				t.Fatalf("buffer of %d bytes for a limit of %d", cap(got), tc.limit)
			}
		})
	}
}
