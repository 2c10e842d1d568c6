package chunkfmt

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/castore-go/castore"
)

// text is compressible: words from a small vocabulary in random order.
func text(n int) []byte {
	words := strings.Fields("func return if else for range struct interface package import type var const map chan go defer select case switch default break continue nil err ctx context error string int byte")
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(" \n\t("[r.IntN(4)])
	}
	return b.Bytes()[:n]
}

// Every level writes frames DecodeChunk reads back; fastest spends fewer
// bytes' worth of effort (more bytes out), better more; unknown levels are
// refused.
func TestCompressionLevels(t *testing.T) {
	data := text(1 << 20)
	d := castore.Sum(data)
	sizes := map[Compression]int{}
	for _, c := range []Compression{CompressionFastest, CompressionDefault, CompressionBetter, ""} {
		enc, err := NewEncoderAt(c)
		if err != nil {
			t.Fatalf("NewEncoderAt(%q): %v", c, err)
		}
		comp := enc.Encode(data)
		got, err := DecodeChunk(d, comp, int64(len(data)))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("level %q does not round-trip: %v", c, err)
		}
		sizes[c] = len(comp)
	}
	if !(sizes[CompressionFastest] > sizes[CompressionDefault] && sizes[CompressionDefault] > sizes[CompressionBetter]) || sizes[""] != sizes[CompressionDefault] {
		t.Errorf("compressed sizes by level: %v; want fastest > default > better, and \"\" the default", sizes)
	}
	for _, bad := range []string{"fast", "9", "DEFAULT", " default"} {
		if _, err := ParseCompression(bad); err == nil {
			t.Errorf("ParseCompression(%q) accepted", bad)
		}
		if _, err := NewEncoderAt(Compression(bad)); err == nil {
			t.Errorf("NewEncoderAt(%q) accepted", bad)
		}
	}
}
