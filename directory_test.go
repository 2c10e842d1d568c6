package castore_test

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/castore-go/castore"
)

func mustDir(t testing.TB, es ...castore.Entry) *castore.Directory {
	t.Helper()
	d, err := castore.NewDirectory(es...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The directories of tvix's fixtures, with the digests tvix computes.
func TestDirectoryVectors(t *testing.T) {
	empty := mustDir(t)
	keep := mustDir(t, castore.Entry{Name: ".keep", Node: castore.FileNode(castore.EmptyDigest, 0, false)})
	complicated := mustDir(t,
		castore.Entry{Name: "keep", Node: keep.Node()},
		castore.Entry{Name: ".keep", Node: castore.FileNode(castore.EmptyDigest, 0, false)},
		castore.Entry{Name: "aa", Node: castore.SymlinkNode("/nix/store/somewhereelse")},
	)
	a := mustDir(t, castore.Entry{Name: "a", Node: empty.Node()})
	aa := mustDir(t,
		castore.Entry{Name: "a", Node: empty.Node()},
		castore.Entry{Name: "a'", Node: empty.Node()},
	)
	ab := mustDir(t,
		castore.Entry{Name: "a", Node: empty.Node()},
		castore.Entry{Name: "b", Node: a.Node()},
	)
	hello := castore.Sum([]byte("Hello World!"))
	withBlobs := mustDir(t,
		castore.Entry{Name: "hello", Node: castore.FileNode(hello, 12, true)},
		castore.Entry{Name: "z", Node: castore.FileNode(castore.Sum(zBlob()), 1044480, false)},
	)
	for _, v := range []struct {
		name string
		d    *castore.Directory
		hex  string
		size uint64
	}{
		{"empty", empty, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", 0},
		{"keep", keep, "8b5b5d642b646bb8ed504b0862c39413e87e57491497de7bd075953f7b83810e", 1},
		{"complicated", complicated, "3f951a15afd586fb3121ef4d13d582e811ce0e5a7f21c0497fd87490e9e2355a", 4},
		{"a", a, "8701f4722d8dae7f2c40fa003331b8437a3825f9e1bfd3a77998c64cc226b9cc", 1},
		{"a,a'", aa, "78eb200ae0cc95d4ea954655fbcf91e285013a261310e161927f2401d2bca803", 2},
		{"a,b", ab, "99922a5c1801805287a647af73bca0ed7352a5f7f373e54992795bcc4a235213", 3},
		{"blobs", withBlobs, "adc9ea453cfc6678f9e26b0979c611dbda99291162a56478714c051941848d79", 2},
	} {
		t.Run(v.name, func(t *testing.T) {
			if got := v.d.Digest().Hex(); got != v.hex {
				t.Errorf("Digest = %s, want %s", got, v.hex)
			}
			if v.d.Size() != v.size {
				t.Errorf("Size = %d, want %d", v.d.Size(), v.size)
			}
			b := v.d.Marshal()
			if castore.Sum(b).Hex() != v.hex {
				t.Errorf("BLAKE3(Marshal) = %s", castore.Sum(b).Hex())
			}
			back, err := castore.UnmarshalDirectory(b)
			if err != nil {
				t.Fatalf("UnmarshalDirectory: %v", err)
			}
			if !back.Equal(v.d) {
				t.Errorf("round trip changed the directory")
			}
		})
	}
	if got := hex.EncodeToString(keep.Marshal()); got != "12290a052e6b6565701220af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262" {
		t.Errorf("canonical bytes of keep = %s", got)
	}
	if complicated.String() != "Directory(b3:P5UaFa/VhvsxIe9NE9WC6BHODlp/IcBJf9h0kOniNVo=, 3 entries, size 4)" {
		t.Errorf("String = %s", complicated)
	}
	if len(empty.Marshal()) != 0 {
		t.Errorf("empty directory encodes to %d bytes", len(empty.Marshal()))
	}
	var zero castore.Directory
	if zero.Digest() != castore.EmptyDigest {
		t.Errorf("zero Directory digest = %s", zero.Digest())
	}
}

func TestDirectoryAddLookup(t *testing.T) {
	d := mustDir(t)
	for _, n := range []castore.PathComponent{"m", "b", "z", "a"} {
		if err := d.Add(n, castore.FileNode(castore.EmptyDigest, 0, false)); err != nil {
			t.Fatalf("Add(%s): %v", n, err)
		}
	}
	var names []string
	for _, e := range d.Entries() {
		names = append(names, string(e.Name))
	}
	if strings.Join(names, ",") != "a,b,m,z" {
		t.Errorf("entries = %v", names)
	}
	if _, ok := d.Lookup("m"); !ok {
		t.Error("Lookup(m) missing")
	}
	if _, ok := d.Lookup("q"); ok {
		t.Error("Lookup(q) found")
	}
	before := d.Digest()
	for _, tc := range []struct {
		name castore.PathComponent
		node castore.Node
		rule error
	}{
		{"m", castore.SymlinkNode("x"), castore.ErrDuplicateName},
		{"..", castore.SymlinkNode("x"), castore.ErrNameDotDot},
		{"q", castore.SymlinkNode(""), castore.ErrSymlinkTargetEmpty},
		{"q", castore.Node{}, castore.ErrNoNodeSet},
		{"q", castore.DirectoryNode(castore.EmptyDigest, math.MaxUint64), castore.ErrSizeOverflow},
	} {
		if err := d.Add(tc.name, tc.node); !errors.Is(err, tc.rule) {
			t.Errorf("Add(%q) = %v, want %v", tc.name, err, tc.rule)
		}
	}
	if d.Digest() != before || d.Len() != 4 {
		t.Error("a failed Add changed the directory")
	}
}

func TestDirectorySizeOverflow(t *testing.T) {
	_, err := castore.NewDirectory(
		castore.Entry{Name: "a", Node: castore.DirectoryNode(castore.EmptyDigest, math.MaxUint64-1)},
		castore.Entry{Name: "b", Node: castore.FileNode(castore.EmptyDigest, 0, false)},
	)
	if !errors.Is(err, castore.ErrSizeOverflow) {
		t.Fatalf("got %v", err)
	}
	d, err := castore.NewDirectory(castore.Entry{Name: "a", Node: castore.DirectoryNode(castore.EmptyDigest, math.MaxUint64-1)})
	if err != nil || d.Size() != math.MaxUint64 {
		t.Fatalf("largest size: %v %v", d, err)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		rule error
	}{
		{"", castore.ErrNameEmpty},
		{".", castore.ErrNameDot},
		{"..", castore.ErrNameDotDot},
		{"a/b", castore.ErrNameSlash},
		{"/", castore.ErrNameSlash},
		{"a\x00b", castore.ErrNameNUL},
		{strings.Repeat("x", 256), castore.ErrNameTooLong},
		{strings.Repeat("x", 255), nil},
		{"...", nil},
		{".a", nil},
		{"\xff\xfe not utf-8", nil},
	} {
		_, err := castore.NewPathComponent(tc.in)
		if tc.rule == nil && err != nil || tc.rule != nil && !errors.Is(err, tc.rule) {
			t.Errorf("NewPathComponent(%q) = %v, want %v", tc.in, err, tc.rule)
		}
	}
	for _, tc := range []struct {
		in   string
		rule error
	}{
		{"", castore.ErrSymlinkTargetEmpty},
		{"a\x00", castore.ErrSymlinkTargetNUL},
		{strings.Repeat("x", 4096), castore.ErrSymlinkTargetLength},
		{strings.Repeat("x", 4095), nil},
		{"../../etc/passwd", nil},
		{"/abs", nil},
	} {
		err := castore.ValidateSymlinkTarget([]byte(tc.in))
		if tc.rule == nil && err != nil || tc.rule != nil && !errors.Is(err, tc.rule) {
			t.Errorf("ValidateSymlinkTarget(%.20q) = %v, want %v", tc.in, err, tc.rule)
		}
	}
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true}, {"a", true}, {"a/b/c", true},
		{"/a", false}, {"a/", false}, {"a//b", false}, {"a/../b", false}, {"./a", false}, {"a/\x00", false},
	} {
		p, err := castore.ParsePath(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParsePath(%q) = %v", tc.in, err)
			continue
		}
		if !tc.ok {
			if !errors.Is(err, castore.ErrPathInvalid) {
				t.Errorf("ParsePath(%q) error %v is not ErrPathInvalid", tc.in, err)
			}
			continue
		}
		if got := len(p.Components()); tc.in != "" && got != strings.Count(tc.in, "/")+1 || tc.in == "" && got != 0 {
			t.Errorf("Components(%q) = %d", tc.in, got)
		}
	}
	p := castore.Path("a").Join("b").Join("c")
	if p != "a/b/c" {
		t.Fatalf("Join = %q", p)
	}
	if dir, base := p.Split(); dir != "a/b" || base != "c" {
		t.Errorf("Split = %q %q", dir, base)
	}
	if dir, base := castore.Path("x").Split(); dir != "" || base != "x" {
		t.Errorf("Split(x) = %q %q", dir, base)
	}
}
