package dirstore_test

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/objectstore/memstore"
)

func zstdOf(b []byte) []byte {
	enc, _ := zstd.NewWriter(nil)
	return enc.EncodeAll(b, nil)
}

// Every way a bundle can be bad gives an error and yields nothing after
// it; nothing unverified is ever yielded.
func TestHostileBundles(t *testing.T) {
	leaf, mid, root := dirtest.SmallClosure(t)
	other := dirtest.MustDir(t, castore.Entry{Name: "o", Node: castore.SymlinkNode("x")})
	good := dirstore.AppendBundle(nil, []*castore.Directory{root, mid, leaf})
	huge := binary.BigEndian.AppendUint32(nil, 1<<31)
	for _, tc := range []struct {
		name   string
		object []byte
		want   string
		yields int
	}{
		{"not zstd", []byte("plain bytes, not a zstd stream"), "magic number", 0},
		{"truncated stream", zstdOf(good)[:len(zstdOf(good))-5], "", -1},
		{"truncated frame", zstdOf(good[:len(good)-3]), "truncated", 2},
		{"oversized frame", zstdOf(append(huge, 1, 2, 3)), "more than", 0},
		{"missing directories", zstdOf(dirstore.AppendBundle(nil, []*castore.Directory{root, mid})), "lacks 1 directories", 2},
		{"foreign root", zstdOf(dirstore.AppendBundle(nil, []*castore.Directory{other})), "instead of the root", 0},
		{"foreign frame", zstdOf(dirstore.AppendBundle(nil, []*castore.Directory{root, other})), "nothing before it refers to", 1},
		{"leaves first", zstdOf(dirstore.AppendBundle(nil, []*castore.Directory{leaf, mid, root})), "instead of the root", 0},
		{"repeated frame", zstdOf(dirstore.AppendBundle(nil, []*castore.Directory{root, mid, leaf, leaf})), "comes twice", 3},
		{"invalid frame", zstdOf(append(binary.BigEndian.AppendUint32(nil, 3), 0xff, 0xff, 0xff)), "instead of the root", 0},
		{"empty", zstdOf(nil), "reading its length", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memstore.New()
			mem.Put(t.Context(), dirstore.BundleKey(root.Digest()), bytes.NewReader(tc.object))
			b := bundles(t, mem)
			n := 0
			var err error
			for d, e := range b.GetRecursive(t.Context(), root.Digest()) {
				if e != nil {
					err = e
					break
				}
				if n == 0 && d.Digest() != root.Digest() {
					t.Fatal("the first directory yielded is not the root")
				}
				n++
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v after %d directories, want an error containing %q", err, n, tc.want)
			}
			if tc.yields >= 0 && n != tc.yields {
				t.Fatalf("yielded %d directories before the error, want %d", n, tc.yields)
			}
		})
	}
}

// FuzzReadBundle: never panics, and yields only directories that the
// closure refers to, root first.
//
//	go test ./dirstore -run '^$' -fuzz FuzzReadBundle -fuzztime 1m
func FuzzReadBundle(f *testing.F) {
	leaf, mid, root := dirtest.SmallClosure(f)
	f.Add(zstdOf(dirstore.AppendBundle(nil, []*castore.Directory{root, mid, leaf})))
	f.Add(zstdOf(dirstore.AppendBundle(nil, []*castore.Directory{root})))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, b []byte) {
		refs := map[castore.Digest]bool{root.Digest(): true}
		for d, err := range dirstore.ReadBundle(bytes.NewReader(b), root.Digest(), 1<<20) {
			if err != nil {
				return
			}
			if !refs[d.Digest()] {
				t.Fatalf("yielded %s, which nothing referred to", d.Digest())
			}
			for _, e := range d.Entries() {
				if e.Node.Type == castore.NodeDirectory {
					refs[e.Node.Digest] = true
				}
			}
		}
	})
}

// A bundle object that decompresses to far more than any frame may hold
// (a decompression bomb) is refused, and what is allocated for it stays
// bounded by the frame bound and the decoder's window limit.
func TestBundleDecompressionBomb(t *testing.T) {
	_, _, root := dirtest.SmallClosure(t)
	for _, tc := range []struct {
		name   string
		window int
		want   string
	}{
		{"1 GiB behind one frame", 1 << 20, "instead of the root"},
		{"256 MiB window", 256 << 20, "window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var obj bytes.Buffer
			enc, err := zstd.NewWriter(&obj, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(tc.window), zstd.WithSingleSegment(false))
			if err != nil {
				t.Fatal(err)
			}
			enc.Write(binary.BigEndian.AppendUint32(nil, dirstore.DefaultMaxFrame))
			zeros := make([]byte, 1<<20)
			for range 1024 {
				enc.Write(zeros)
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			mem := memstore.New()
			mem.Put(t.Context(), dirstore.BundleKey(root.Digest()), bytes.NewReader(obj.Bytes()))
			b := bundles(t, mem)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var got error
			for _, err := range b.GetRecursive(t.Context(), root.Digest()) {
				if err != nil {
					got = err
				}
			}
			runtime.ReadMemStats(&after)
			if got == nil || !strings.Contains(got.Error(), tc.want) {
				t.Fatalf("a %d-byte bomb: %v, want an error containing %q", obj.Len(), got, tc.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*dirstore.DefaultMaxFrame {
				t.Fatalf("reading a bomb allocated %d MiB, more than the bound allows", alloc>>20)
			}
		})
	}
}
