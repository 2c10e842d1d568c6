package chunkfmt_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore/blobtest"
)

func compress(t testing.TB, data []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(data, nil)
}

// DecodeChunk refuses whatever is not exactly the chunk: garbage, other
// content, fewer or more bytes than the size says, a size too large to
// trust, a bomb. Every refusal wraps castore.ErrCorrupt.
func TestDecodeChunkHostile(t *testing.T) {
	data := blobtest.Data(300<<10, 3)
	d := castore.Sum(data)
	good := compress(t, data)
	bomb := compress(t, make([]byte, chunkfmt.MaxChunkObject+1))
	cases := []struct {
		name string
		comp []byte
		size int64
	}{
		{"empty", nil, int64(len(data))},
		{"garbage", []byte("this is not zstd at all"), int64(len(data))},
		{"truncated", good[:len(good)/2], int64(len(data))},
		{"other content", compress(t, blobtest.Data(300<<10, 4)), int64(len(data))},
		{"size says more", good, int64(len(data)) + 1},
		{"size says less", good, int64(len(data)) - 1},
		{"size far beyond memory", good, 1 << 50},
		{"two frames", append(append([]byte{}, good...), good...), int64(len(data))},
		{"bomb, size unknown", bomb, -1},
		{"bomb, size claimed", bomb, chunkfmt.MaxChunkObject + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := chunkfmt.DecodeChunk(d, tc.comp, tc.size); !errors.Is(err, castore.ErrCorrupt) {
				t.Fatalf("%v, want a corrupt-chunk error", err)
			}
		})
	}
	if got, err := chunkfmt.DecodeChunk(d, good, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the chunk itself: %v", err)
	}
}

// Decompress, which checks no digest, refuses whatever does not decode to
// exactly size bytes, whether or not its frame declares that size: a
// second frame after one that does, trailing garbage, a bomb after a good
// frame, a frame whose header lies about its size.
func TestDecompressHostile(t *testing.T) {
	data := blobtest.Data(300<<10, 3)
	d := castore.Sum(data)
	good := compress(t, data)
	bomb := compress(t, make([]byte, chunkfmt.MaxChunkObject+1))
	small := compress(t, data[:1000])
	// The frame of data[:1000] declares its 1000 bytes in a two-byte
	// field (value - 256: e8 02); make it say 999, fewer than it holds.
	var h zstd.Header
	if err := h.Decode(small); err != nil || h.FrameContentSize != 1000 {
		t.Fatalf("the test's frame does not declare 1000 bytes: %v", err)
	}
	lying := bytes.Clone(small)
	if i := bytes.Index(lying[4:12], []byte{0xe8, 0x02}); i >= 0 {
		lying[4+i] = 0xe7
	} else {
		t.Fatalf("cannot find the size 1000 in the frame header % x", lying[:12])
	}
	cases := []struct {
		name string
		comp []byte
		size int64
	}{
		{"two frames", append(bytes.Clone(good), good...), int64(len(data))},
		{"trailing garbage", append(bytes.Clone(good), "garbage"...), int64(len(data))},
		{"a bomb after the frame", append(bytes.Clone(good), bomb...), int64(len(data))},
		{"header says less than the frame holds", lying, 999},
		{"size says more", good, int64(len(data)) + 1},
		{"size says less", good, int64(len(data)) - 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := chunkfmt.Decompress(d, tc.comp, tc.size); !errors.Is(err, castore.ErrCorrupt) {
				t.Fatalf("%d bytes, %v; want a corrupt-chunk error", len(got), err)
			}
		})
	}
	// After the refusals (some leave a pooled decoder mid-frame), the
	// chunk itself still decodes, at once.
	if got, err := chunkfmt.Decompress(d, good, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the chunk itself: %v", err)
	}
}

// FuzzDecodeChunk: never panics, and what it returns is exactly the chunk
// named: its digest, and its size when one was given.
//
//	go test ./chunkfmt -run '^$' -fuzz FuzzDecodeChunk -fuzztime 1m
func FuzzDecodeChunk(f *testing.F) {
	data := []byte("some chunk of a file, repeated, repeated, repeated")
	d := castore.Sum(data)
	f.Add(compress(f, data), int64(len(data)))
	f.Add(compress(f, data), int64(-1))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58}, int64(7))
	f.Fuzz(func(t *testing.T, comp []byte, size int64) {
		got, err := chunkfmt.DecodeChunk(d, comp, size)
		if err != nil {
			if !errors.Is(err, castore.ErrCorrupt) {
				t.Fatalf("refusal does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if !bytes.Equal(got, data) || (size >= 0 && int64(len(got)) != size) {
			t.Fatalf("decoded %d bytes (size %d) that are not the chunk", len(got), size)
		}
	})
}

// FuzzDecompress: never panics; what it returns has exactly the size
// asked for, and refusals wrap ErrCorrupt (ErrInvalid for a size out of
// range). It does not check the digest: that is its point.
//
//	go test ./chunkfmt -run '^$' -fuzz FuzzDecompress -fuzztime 1m
func FuzzDecompress(f *testing.F) {
	data := []byte("some chunk of a file, repeated, repeated, repeated")
	d := castore.Sum(data)
	f.Add(compress(f, data), int64(len(data)))
	f.Add(compress(f, data), int64(len(data)-1))
	f.Add(compress(f, data), int64(-1))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58}, int64(7))
	f.Fuzz(func(t *testing.T, comp []byte, size int64) {
		got, err := chunkfmt.Decompress(d, comp, size)
		switch {
		case size < 0 || size > chunkfmt.MaxChunkObject:
			if !errors.Is(err, castore.ErrInvalid) {
				t.Fatalf("size %d: %v, want ErrInvalid", size, err)
			}
		case err != nil:
			if !errors.Is(err, castore.ErrCorrupt) {
				t.Fatalf("refusal does not wrap ErrCorrupt: %v", err)
			}
		case int64(len(got)) != size:
			t.Fatalf("decompressed %d bytes, asked for %d", len(got), size)
		}
		// Into a buffer, reused and too small by turns, the same answer.
		for _, buf := range [][]byte{make([]byte, 3, 64<<10), make([]byte, 0, 1)} {
			into, ierr := chunkfmt.DecompressInto(buf, d, comp, size)
			if (ierr == nil) != (err == nil) || !bytes.Equal(into, got) {
				t.Fatalf("DecompressInto (cap %d): %d bytes, %v; Decompress: %d bytes, %v", cap(buf), len(into), ierr, len(got), err)
			}
		}
	})
}

// BenchmarkDecodeChunk: decompressing and verifying one 256 KiB chunk of
// source code (this package's own files, repeated), the work of every
// chunk a reader gets.
func BenchmarkDecodeChunk(b *testing.B) {
	var src []byte
	for _, name := range []string{"codec.go", "reader.go", "index.go", "keys.go", "codec_test.go"} {
		s, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		src = append(src, s...)
	}
	data := bytes.Repeat(src, (256<<10)/len(src)+1)[:256<<10]
	comp := compress(b, data)
	d := castore.Sum(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := chunkfmt.DecodeChunk(d, comp, int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}

// ContentSize reads the size our encoder declares for any chunk that
// declares one, and refuses what is not exactly one frame.
func TestContentSize(t *testing.T) {
	declared := 0
	for _, n := range []int{0, 1, 100, 300, 5000, 200 << 10, 512 << 10} {
		data := bytes.Repeat([]byte("castore "), n/8+1)[:n]
		comp := compress(t, data)
		size, ok := chunkfmt.ContentSize(comp)
		if ok {
			declared++
			if size != int64(n) {
				t.Errorf("%d bytes: ContentSize says %d", n, size)
			}
		}
		if n >= 5000 && !ok {
			t.Errorf("%d bytes: our encoder's frame declares no size", n)
		}
		if ok {
			for _, bad := range [][]byte{comp[:len(comp)-1], append(bytes.Clone(comp), comp...), append(bytes.Clone(comp), 0)} {
				if s, ok := chunkfmt.ContentSize(bad); ok {
					t.Errorf("%d bytes: a frame truncated or followed by more says %d", n, s)
				}
			}
		}
	}
	if declared < 4 {
		t.Errorf("only %d of 7 frames declared their size", declared)
	}
}

// FuzzContentSize: never panics; a size it reads from a frame that
// decompresses is the size it decompresses to.
//
//	go test ./chunkfmt -run '^$' -fuzz FuzzContentSize -fuzztime 1m
func FuzzContentSize(f *testing.F) {
	f.Add(compress(f, bytes.Repeat([]byte("abc"), 3000)))
	f.Add(compress(f, []byte("x")))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58})
	f.Fuzz(func(t *testing.T, comp []byte) {
		size, ok := chunkfmt.ContentSize(comp)
		if !ok {
			return
		}
		dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(chunkfmt.MaxChunkObject))
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		data, err := dec.DecodeAll(comp, nil)
		if err == nil && int64(len(data)) != size {
			t.Fatalf("ContentSize %d, decompresses to %d bytes", size, len(data))
		}
	})
}

// BenchmarkDecompressSmall: decompressing a small file's one chunk (8 KiB
// of source code) without the hash, the work of every small file a mount
// or an export reads.
func BenchmarkDecompressSmall(b *testing.B) {
	src, err := os.ReadFile("codec.go")
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat(src, (8<<10)/len(src)+1)[:8<<10]
	comp := compress(b, data)
	d := castore.Sum(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := chunkfmt.Decompress(d, comp, int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}
