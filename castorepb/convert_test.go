package castorepb_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
)

var (
	dgst  = castore.EmptyDigest[:]
	short = make([]byte, 31)
)

func dn(name string, size uint64) *pb.DirectoryNode {
	return &pb.DirectoryNode{Name: []byte(name), Digest: dgst, Size: size}
}
func fn(name string) *pb.FileNode { return &pb.FileNode{Name: []byte(name), Digest: dgst} }
func sn(name, target string) *pb.SymlinkNode {
	return &pb.SymlinkNode{Name: []byte(name), Target: []byte(target)}
}

// Every rule of a wire Directory, checked through both decoders: the
// conversion of a decoded proto (what the gRPC server sees) and the strict
// byte decoder (what stores use).
func TestDirectoryRejections(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dir   *pb.Directory
		rule  error
		entry string // the name the error must mention
	}{
		{"dirs unsorted", &pb.Directory{Directories: []*pb.DirectoryNode{dn("b", 0), dn("a", 0)}}, castore.ErrWrongSorting, "a"},
		{"files unsorted", &pb.Directory{Files: []*pb.FileNode{fn("b"), fn("a")}}, castore.ErrWrongSorting, "a"},
		{"symlinks unsorted", &pb.Directory{Symlinks: []*pb.SymlinkNode{sn("b", "x"), sn("a", "x")}}, castore.ErrWrongSorting, "a"},
		{"dup in dirs", &pb.Directory{Directories: []*pb.DirectoryNode{dn("a", 0), dn("a", 0)}}, castore.ErrDuplicateName, "a"},
		{"dup in files", &pb.Directory{Files: []*pb.FileNode{fn("a"), fn("a")}}, castore.ErrDuplicateName, "a"},
		{"dup in symlinks", &pb.Directory{Symlinks: []*pb.SymlinkNode{sn("a", "x"), sn("a", "y")}}, castore.ErrDuplicateName, "a"},
		{"dup dir/file", &pb.Directory{Directories: []*pb.DirectoryNode{dn("a", 0)}, Files: []*pb.FileNode{fn("a")}}, castore.ErrDuplicateName, "a"},
		{"dup file/symlink", &pb.Directory{Files: []*pb.FileNode{fn("q")}, Symlinks: []*pb.SymlinkNode{sn("q", "x")}}, castore.ErrDuplicateName, "q"},
		{"dup dir/symlink", &pb.Directory{Directories: []*pb.DirectoryNode{dn("m", 0)}, Symlinks: []*pb.SymlinkNode{sn("m", "x")}}, castore.ErrDuplicateName, "m"},
		{"empty dir name", &pb.Directory{Directories: []*pb.DirectoryNode{dn("", 0)}}, castore.ErrNameEmpty, ""},
		{"empty file name", &pb.Directory{Files: []*pb.FileNode{fn("")}}, castore.ErrNameEmpty, ""},
		{"dot", &pb.Directory{Files: []*pb.FileNode{fn(".")}}, castore.ErrNameDot, "."},
		{"dotdot", &pb.Directory{Directories: []*pb.DirectoryNode{dn("..", 0)}}, castore.ErrNameDotDot, ".."},
		{"slash", &pb.Directory{Symlinks: []*pb.SymlinkNode{sn("a/b", "x")}}, castore.ErrNameSlash, "a/b"},
		{"NUL", &pb.Directory{Files: []*pb.FileNode{fn("a\x00")}}, castore.ErrNameNUL, "a\x00"},
		{"too long", &pb.Directory{Files: []*pb.FileNode{fn(strings.Repeat("n", 256))}}, castore.ErrNameTooLong, "nnnn"},
		{"short dir digest", &pb.Directory{Directories: []*pb.DirectoryNode{{Name: []byte("d"), Digest: short}}}, castore.ErrDigestLength, "d"},
		{"missing file digest", &pb.Directory{Files: []*pb.FileNode{{Name: []byte("f")}}}, castore.ErrDigestLength, "f"},
		{"long file digest", &pb.Directory{Files: []*pb.FileNode{{Name: []byte("f"), Digest: make([]byte, 33)}}}, castore.ErrDigestLength, "f"},
		{"empty target", &pb.Directory{Symlinks: []*pb.SymlinkNode{sn("l", "")}}, castore.ErrSymlinkTargetEmpty, "l"},
		{"NUL target", &pb.Directory{Symlinks: []*pb.SymlinkNode{sn("l", "a\x00b")}}, castore.ErrSymlinkTargetNUL, "l"},
		{"long target", &pb.Directory{Symlinks: []*pb.SymlinkNode{sn("l", strings.Repeat("t", 4096))}}, castore.ErrSymlinkTargetLength, "l"},
		{"size overflow", &pb.Directory{Directories: []*pb.DirectoryNode{dn("a", math.MaxUint64)}}, castore.ErrSizeOverflow, "a"},
		{"size overflow sum", &pb.Directory{Directories: []*pb.DirectoryNode{dn("a", math.MaxUint64/2), dn("b", math.MaxUint64/2)}}, castore.ErrSizeOverflow, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(how string, err error) {
				t.Helper()
				if !errors.Is(err, tc.rule) || !errors.Is(err, castore.ErrInvalid) {
					t.Fatalf("%s: got %v, want %v", how, err, tc.rule)
				}
				var ve *castore.ValidationError
				if !errors.As(err, &ve) || !strings.Contains(ve.Name, tc.entry) {
					t.Fatalf("%s: error %v does not name entry %q", how, err, tc.entry)
				}
			}
			_, err := pb.ToDirectory(tc.dir)
			check("ToDirectory", err)
			b, merr := proto.MarshalOptions{Deterministic: true}.Marshal(tc.dir)
			if merr != nil {
				t.Fatal(merr)
			}
			_, err = castore.UnmarshalDirectory(b)
			check("UnmarshalDirectory", err)
		})
	}
}

// Bytes that are a valid Directory in a non-canonical encoding, or not a
// Directory at all, are refused by the strict decoder.
func TestUnmarshalRejectsNonCanonical(t *testing.T) {
	valid := (&pb.Directory{Files: []*pb.FileNode{fn("a")}, Symlinks: []*pb.SymlinkNode{sn("b", "x")}})
	vb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(valid)
	if _, err := castore.UnmarshalDirectory(vb); err != nil {
		t.Fatalf("valid input refused: %v", err)
	}
	fileMsg, _ := proto.Marshal(fn("a"))
	linkMsg, _ := proto.Marshal(sn("b", "x"))
	appendField := func(b []byte, num byte, msg []byte) []byte {
		return append(append(b, num<<3|2, byte(len(msg))), msg...)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"symlinks before files", appendField(appendField(nil, 3, linkMsg), 2, fileMsg)},
		{"unknown field", append(bytes.Clone(vb), 0x20, 0x01)},
		{"explicit zero size", appendField(nil, 2, append(bytes.Clone(fileMsg), 0x18, 0x00))},
		{"explicit false executable", appendField(nil, 2, append(bytes.Clone(fileMsg), 0x20, 0x00))},
		{"executable = 2", appendField(nil, 2, append(bytes.Clone(fileMsg), 0x20, 0x02))},
		{"name repeated", appendField(nil, 2, append(bytes.Clone(fileMsg), 0x0a, 0x01, 'a'))},
		{"non-minimal length", append([]byte{0x12, 0x80 | byte(len(fileMsg)), 0x00}, fileMsg...)},
		{"truncated", vb[:len(vb)-1]},
		{"wrong wire type", []byte{0x10, 0x01}},
		{"garbage", []byte{0xff, 0xff, 0xff}},
		{"field 0", []byte{0x02, 0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := castore.UnmarshalDirectory(tc.b); !errors.Is(err, castore.ErrInvalid) {
				t.Fatalf("got %v, want an ErrInvalid", err)
			}
		})
	}
}

func TestNodeConversion(t *testing.T) {
	if _, _, err := pb.ToNode(&pb.Node{}); !errors.Is(err, castore.ErrNoNodeSet) {
		t.Errorf("empty Node: %v", err)
	}
	if _, _, err := pb.ToNode(&pb.Node{Node: &pb.Node_File{File: &pb.FileNode{Name: []byte("f"), Digest: short}}}); !errors.Is(err, castore.ErrDigestLength) {
		t.Errorf("short digest: %v", err)
	}
	if _, _, err := pb.ToNode(&pb.Node{Node: &pb.Node_Directory{Directory: &pb.DirectoryNode{Name: []byte("d")}}}); !errors.Is(err, castore.ErrDigestLength) {
		t.Errorf("missing digest: %v", err)
	}
	if _, _, err := pb.ToNode(&pb.Node{Node: &pb.Node_Symlink{Symlink: sn("l", "")}}); !errors.Is(err, castore.ErrSymlinkTargetEmpty) {
		t.Errorf("empty target: %v", err)
	}
	for _, n := range []castore.Node{
		castore.FileNode(castore.Sum([]byte("x")), 1, true),
		castore.DirectoryNode(castore.EmptyDigest, 7),
		castore.SymlinkNode("/nix/store/somewhereelse"),
	} {
		name, back, err := pb.ToNode(pb.FromNode([]byte("n"), n))
		if err != nil || string(name) != "n" || !back.Equal(n) {
			t.Errorf("round trip of %v: %v %q %v", n, back, name, err)
		}
	}
}

// randomDirectory makes a valid Directory with awkward names and values.
func randomDirectory(r *rand.Rand, n int) *castore.Directory {
	seen := map[string]bool{}
	var es []castore.Entry
	for len(es) < n {
		nb := make([]byte, 1+r.IntN(20))
		for i := range nb {
			nb[i] = byte(1 + r.IntN(255))
			if nb[i] == '/' {
				nb[i] = 'x'
			}
		}
		name := string(nb)
		if name == "." || name == ".." || seen[name] {
			continue
		}
		seen[name] = true
		var d castore.Digest
		for i := range d {
			d[i] = byte(r.Uint32())
		}
		var node castore.Node
		switch r.IntN(3) {
		case 0:
			node = castore.DirectoryNode(d, uint64(r.IntN(3))*r.Uint64()>>r.IntN(64))
		case 1:
			node = castore.FileNode(d, uint64(r.IntN(2))*r.Uint64()>>r.IntN(64), r.IntN(2) == 0)
		default:
			node = castore.SymlinkNode(strings.Repeat("t/", 1+r.IntN(300)))
		}
		es = append(es, castore.Entry{Name: castore.PathComponent(name), Node: node})
	}
	// Directory sizes may overflow when summed; keep only what validates.
	for {
		d, err := castore.NewDirectory(es...)
		if err == nil {
			return d
		}
		es = es[:len(es)-1]
	}
}

// The direct encoder equals proto's deterministic encoding of the generated
// types, and both decoders agree.
func TestCanonicalEncodingMatchesProto(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		d := randomDirectory(r, r.IntN(40))
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(pb.FromDirectory(d))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Marshal(); !bytes.Equal(got, want) {
			t.Fatalf("case %d: Marshal differs from proto\n got %x\nwant %x", i, got, want)
		}
		back, err := pb.ToDirectory(pb.FromDirectory(d))
		if err != nil || !back.Equal(d) {
			t.Fatalf("case %d: ToDirectory round trip: %v", i, err)
		}
		back2, err := castore.UnmarshalDirectory(want)
		if err != nil || !back2.Equal(d) {
			t.Fatalf("case %d: UnmarshalDirectory round trip: %v", i, err)
		}
	}
}

// FuzzProtoDirectory feeds arbitrary bytes through proto decoding and
// conversion, and cross-checks against the strict decoder:
//
//	go test ./castorepb -run '^$' -fuzz FuzzProtoDirectory -fuzztime 1m
func FuzzProtoDirectory(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		strict, strictErr := castore.UnmarshalDirectory(b)
		var pd pb.Directory
		if err := proto.Unmarshal(b, &pd); err != nil {
			if strictErr == nil {
				t.Fatalf("strict decoder accepted bytes proto refuses: %v", err)
			}
			return
		}
		d, err := pb.ToDirectory(&pd)
		if strictErr == nil {
			if err != nil || !d.Equal(strict) {
				t.Fatalf("strict decoder accepted, conversion says %v", err)
			}
		}
		if err != nil {
			return
		}
		enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(pb.FromDirectory(d))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, d.Marshal()) {
			t.Fatalf("encoders disagree")
		}
		if again, err := castore.UnmarshalDirectory(enc); err != nil || !again.Equal(d) {
			t.Fatalf("canonical bytes do not decode back: %v", err)
		}
	})
}

func seedCorpus(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		f.Add(randomDirectory(r, 1+r.IntN(5)).Marshal())
	}
	f.Add([]byte{})
	f.Add([]byte{0x12, 0x00})
}
