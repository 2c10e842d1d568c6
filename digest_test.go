package castore_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/castore-go/castore"
)

// Blob digests computed by tvix's own packages.
var blobVectors = []struct {
	name string
	data []byte
	hex  string
}{
	{"empty", nil, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
	{"hello", []byte("Hello World!"), "5ca7815adcb484e9a136c11efe69c1d530176d549b5d18d038eb5280b4b3470c"},
	{"z", zBlob(), "a82c5154a7a0c262c6fdb929a317585646f8fbcf80326d0a7b8747edaf2d99d2"},
}

// zBlob is bytes 0..254 repeated 4096 times, as in tvix's fixtures.
func zBlob() []byte {
	var b bytes.Buffer
	for range 4096 {
		for i := range 255 {
			b.WriteByte(byte(i))
		}
	}
	return b.Bytes()
}

func TestBlobDigestVectors(t *testing.T) {
	for _, v := range blobVectors {
		t.Run(v.name, func(t *testing.T) {
			if got := castore.Sum(v.data).Hex(); got != v.hex {
				t.Errorf("Sum = %s, want %s", got, v.hex)
			}
			h := castore.NewHasher()
			for chunk := range pieces(v.data, 1000) {
				h.Write(chunk)
			}
			if got := h.Sum().Hex(); got != v.hex {
				t.Errorf("Hasher = %s, want %s", got, v.hex)
			}
		})
	}
	if castore.EmptyDigest.Hex() != blobVectors[0].hex {
		t.Errorf("EmptyDigest = %s", castore.EmptyDigest.Hex())
	}
}

func pieces(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

func TestDigestTextForms(t *testing.T) {
	const b64 = "b3:P5UaFa/VhvsxIe9NE9WC6BHODlp/IcBJf9h0kOniNVo="
	const hx = "3f951a15afd586fb3121ef4d13d582e811ce0e5a7f21c0497fd87490e9e2355a"
	d, err := castore.ParseDigest(b64)
	if err != nil {
		t.Fatal(err)
	}
	if d.Hex() != hx || d.String() != b64 {
		t.Fatalf("round trip: %s %s", d.Hex(), d)
	}
	d2, err := castore.ParseDigest(strings.ToUpper(hx))
	if err != nil || d2 != d {
		t.Fatalf("hex parse: %v %v", d2, err)
	}
	var d3 castore.Digest
	if err := d3.UnmarshalText([]byte(b64)); err != nil || d3 != d {
		t.Fatalf("UnmarshalText: %v", err)
	}
	if txt, _ := d.MarshalText(); string(txt) != b64 {
		t.Fatalf("MarshalText = %s", txt)
	}
}

func TestDigestRejects(t *testing.T) {
	for _, tc := range []struct {
		in   string
		rule error
	}{
		{"", castore.ErrDigestFormat},
		{"b3:", castore.ErrDigestLength},
		{"b3:AAAA", castore.ErrDigestLength},
		{"b3:" + strings.Repeat("A", 43) + "=" + "A", castore.ErrDigestLength},
		{"b3:" + strings.Repeat("!", 43) + "=", castore.ErrDigestFormat},
		{"b3:P5UaFa/VhvsxIe9NE9WC6BHODlp/IcBJf9h0kOniNVo", castore.ErrDigestLength}, // missing padding
		{strings.Repeat("a", 63), castore.ErrDigestFormat},
		{strings.Repeat("a", 66), castore.ErrDigestFormat},
		{strings.Repeat("g", 64), castore.ErrDigestFormat},
		{"sha256:" + strings.Repeat("a", 64), castore.ErrDigestFormat},
	} {
		_, err := castore.ParseDigest(tc.in)
		if !errors.Is(err, tc.rule) || !errors.Is(err, castore.ErrInvalid) {
			t.Errorf("ParseDigest(%q) = %v, want %v", tc.in, err, tc.rule)
		}
	}
	for _, n := range []int{0, 1, 31, 33, 64} {
		if _, err := castore.DigestFromBytes(make([]byte, n)); !errors.Is(err, castore.ErrDigestLength) {
			t.Errorf("DigestFromBytes(%d bytes) = %v", n, err)
		}
	}
	if _, err := castore.DigestFromBytes(make([]byte, 32)); err != nil {
		t.Errorf("DigestFromBytes(32) = %v", err)
	}
}
