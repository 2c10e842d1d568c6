package bigtable

import (
	"errors"
	"testing"

	"cloud.google.com/go/bigtable"

	"github.com/castore-go/castore"
)

// FuzzDecodeRow feeds decodeRow rows of hostile cells: it must not panic,
// and whatever it returns must be a valid Directory whose digest is the one
// asked for.
func FuzzDecodeRow(f *testing.F) {
	good, _ := castore.NewDirectory(castore.Entry{Name: "a", Node: castore.SymlinkNode("/x")})
	f.Add(good.Marshal(), true, "cf", false)
	f.Add([]byte{}, true, "cf", false)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, true, "cf", true)
	f.Add([]byte{0xff}, false, "other", true)
	f.Fuzz(func(t *testing.T, value []byte, rightQualifier bool, fam string, askForValue bool) {
		want := castore.Sum(value) // a cell whose bytes match its key
		if !askForValue {
			want = good.Digest() // a cell under a key its bytes do not match
		}
		qualifier := want.Hex()
		if !rightQualifier {
			qualifier = "x" + qualifier[1:]
		}
		row := bigtable.Row{fam: {{Row: want.Hex(), Column: fam + ":" + qualifier, Value: value}}}
		dir, err := decodeRow(want, "cf", row)
		if err != nil {
			if !errors.Is(err, castore.ErrNotFound) && !errors.Is(err, castore.ErrCorrupt) {
				t.Fatalf("error is neither not found nor corrupt: %v", err)
			}
			return
		}
		if dir.Digest() != want || castore.Sum(dir.Marshal()) != want {
			t.Fatalf("decoded %s, asked for %s", dir.Digest(), want)
		}
		if fam != "cf" || !rightQualifier {
			t.Fatalf("decoded a cell from family %q qualifier %q", fam, qualifier)
		}
	})
}
