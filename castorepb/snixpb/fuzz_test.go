package snixpb_test

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/castorepb/snixpb"
)

// FuzzToDirectory decodes arbitrary bytes as a snix Directory and as a
// tvix one: the two conversions agree, whatever they accept has the digest
// of its canonical encoding, and converts back to the same Directory.
//
//	go test ./castorepb/snixpb -run '^$' -fuzz FuzzToDirectory -fuzztime 1m
func FuzzToDirectory(f *testing.F) {
	f.Add([]byte{})
	keep := castore.Entry{Name: ".keep", Node: castore.FileNode(castore.EmptyDigest, 0, false)}
	kd, _ := castore.NewDirectory(keep)
	d, _ := castore.NewDirectory(castore.Entry{Name: "keep", Node: kd.Node()}, keep,
		castore.Entry{Name: "aa", Node: castore.SymlinkNode("/nix/store/somewhereelse")},
		castore.Entry{Name: "x", Node: castore.FileNode(castore.EmptyDigest, 300, true)})
	f.Add(d.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var sd snixpb.Directory
		var td pb.Directory
		serr, terr := proto.Unmarshal(b, &sd), proto.Unmarshal(b, &td)
		if (serr == nil) != (terr == nil) {
			t.Fatalf("snix decode: %v, tvix decode: %v", serr, terr)
		}
		if serr != nil {
			return
		}
		got, err := snixpb.ToDirectory(&sd)
		want, werr := pb.ToDirectory(&td)
		if (err == nil) != (werr == nil) {
			t.Fatalf("snix conversion: %v, tvix conversion: %v", err, werr)
		}
		if err != nil {
			if !errors.Is(err, castore.ErrInvalid) {
				t.Fatalf("refusal does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if got.Digest() != want.Digest() {
			t.Fatalf("digests differ: %s, %s", got.Digest(), want.Digest())
		}
		back, err := proto.MarshalOptions{Deterministic: true}.Marshal(snixpb.FromDirectory(got))
		if err != nil {
			t.Fatal(err)
		}
		if castore.Sum(back) != got.Digest() {
			t.Fatal("the snix encoding of an accepted directory does not hash to its digest")
		}
	})
}

// FuzzToChunks decodes arbitrary bytes as a BlobMeta (what a client sends
// in PutBlob): it never panics, agrees with the tvix chunk list of the
// same bytes, and whatever it accepts has 32-byte digests, non-zero sizes
// and their sum, and converts back to the same list.
//
//	go test ./castorepb/snixpb -run '^$' -fuzz FuzzToChunks -fuzztime 1m
func FuzzToChunks(f *testing.F) {
	f.Add([]byte{})
	d := castore.Sum([]byte("a"))
	b, _ := proto.Marshal(snixpb.FromChunks([]castore.ChunkMeta{{Digest: d, Size: 1}, {Digest: d, Size: 1 << 62}}))
	f.Add(b)
	b, _ = proto.Marshal(&snixpb.BlobMeta{Chunks: []*snixpb.BlobMeta_ChunkMeta{{Digest: d[:], Size: 1 << 63}, {Digest: d[:], Size: 1 << 63}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m snixpb.BlobMeta
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		chunks, total, err := snixpb.ToChunks(&m)
		var st pb.StatBlobResponse
		if proto.Unmarshal(b, &st) != nil {
			t.Fatal("bytes that decode as a BlobMeta do not as a StatBlobResponse")
		}
		tchunks, terr := pb.ToChunks(&st)
		if (err == nil) != (terr == nil) {
			t.Fatalf("snix: %v, tvix: %v", err, terr)
		}
		if err != nil {
			if !errors.Is(err, castore.ErrInvalid) {
				t.Fatalf("refusal does not wrap ErrInvalid: %v", err)
			}
			return
		}
		var sum uint64
		for i, c := range chunks {
			if c.Size == 0 || c != tchunks[i] {
				t.Fatalf("chunk #%d: %v (tvix: %v)", i, c, tchunks[i])
			}
			sum += c.Size
		}
		if sum != total {
			t.Fatalf("total %d, sum %d", total, sum)
		}
		again, _, err := snixpb.ToChunks(snixpb.FromChunks(chunks))
		if err != nil || len(again) != len(chunks) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range again {
			if again[i] != chunks[i] {
				t.Fatalf("round trip changed chunk #%d", i)
			}
		}
	})
}

// The snix and tvix messages are one encoding: a Directory converted
// either way marshals to the same bytes.
func TestSameEncoding(t *testing.T) {
	leaf, _ := castore.NewDirectory(castore.Entry{Name: "f", Node: castore.FileNode(castore.Sum([]byte("f")), 1, true)})
	d, err := castore.NewDirectory(castore.Entry{Name: "a", Node: leaf.Node()}, castore.Entry{Name: "l", Node: castore.SymlinkNode("t")})
	if err != nil {
		t.Fatal(err)
	}
	opts := proto.MarshalOptions{Deterministic: true}
	sb, _ := opts.Marshal(snixpb.FromDirectory(d))
	tb, _ := opts.Marshal(pb.FromDirectory(d))
	if !bytes.Equal(sb, tb) || !bytes.Equal(sb, d.Marshal()) {
		t.Fatalf("encodings differ:\nsnix %x\ntvix %x\nmodel %x", sb, tb, d.Marshal())
	}
	back := snixpb.ToTvixDirectory(snixpb.FromTvixDirectory(pb.FromDirectory(d)))
	bb, _ := opts.Marshal(back)
	if !bytes.Equal(bb, tb) {
		t.Fatal("tvix -> snix -> tvix changed the encoding")
	}
}
