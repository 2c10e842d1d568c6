package castore_test

import (
	"bytes"
	"testing"

	"github.com/castore-go/castore"
)

// FuzzUnmarshalDirectory feeds arbitrary bytes to the strict decoder: it
// never panics, and whatever it accepts re-encodes to the same bytes with
// the same digest.
//
//	go test . -run '^$' -fuzz FuzzUnmarshalDirectory -fuzztime 1m
func FuzzUnmarshalDirectory(f *testing.F) {
	f.Add([]byte{})
	f.Add(mustHex(f, "12290a052e6b6565701220af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"))
	keep := castore.Entry{Name: ".keep", Node: castore.FileNode(castore.EmptyDigest, 0, false)}
	kd := mustDir(f, keep)
	f.Add(mustDir(f,
		castore.Entry{Name: "keep", Node: kd.Node()}, keep,
		castore.Entry{Name: "aa", Node: castore.SymlinkNode("/nix/store/somewhereelse")},
		castore.Entry{Name: "x", Node: castore.FileNode(castore.EmptyDigest, 300, true)},
	).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := castore.UnmarshalDirectory(b)
		if err != nil {
			if d != nil {
				t.Fatal("a Directory returned with an error")
			}
			return
		}
		if got := d.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("accepted bytes re-encode differently:\n in %x\nout %x", b, got)
		}
		if d.Digest() != castore.Sum(b) {
			t.Fatal("digest differs from BLAKE3 of the accepted bytes")
		}
		if _, err := castore.NewDirectory(d.Entries()...); err != nil {
			t.Fatalf("accepted directory does not validate: %v", err)
		}
	})
}
