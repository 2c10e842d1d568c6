package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/castore-go/castore"
)

// Run runs the suite; newService returns a fresh, empty service.
func Run(t *testing.T, newService func(t *testing.T) castore.BlobService) {
	t.Run("RoundTrips", func(t *testing.T) { testRoundTrips(t, newService(t)) })
	t.Run("Large", func(t *testing.T) { testLarge(t, newService(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newService(t)) })
	t.Run("ChunkDigests", func(t *testing.T) { testChunkDigests(t, newService(t)) })
	t.Run("SeekAndReadAt", func(t *testing.T) { testSeek(t, newService(t)) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, newService(t)) })
	t.Run("Abandoned", func(t *testing.T) { testAbandoned(t, newService(t)) })
	t.Run("Capabilities", func(t *testing.T) { testCapabilities(t, newService(t)) })
}

func ctxT(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

// Data returns n deterministic pseudo-random bytes.
func Data(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	r.Read(b)
	return b
}

// Put writes data in uneven pieces and checks the digest.
func Put(t *testing.T, s castore.BlobService, data []byte) castore.Digest {
	t.Helper()
	w := s.Create(ctxT(t))
	for rest := data; len(rest) > 0; {
		k := min(len(rest), 1+len(rest)%(300<<10))
		if _, err := w.Write(rest[:k]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		rest = rest[k:]
	}
	d, err := w.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if want := castore.Sum(data); d != want {
		t.Fatalf("Close = %s, want %s", d, want)
	}
	return d
}

func readAll(t *testing.T, s castore.BlobService, d castore.Digest) []byte {
	t.Helper()
	r, err := s.Open(ctxT(t), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	return b
}

// ReadAndCheck reads d from s whole and reports (with t.Error, so it may be
// called from any goroutine) unless it is exactly want.
func ReadAndCheck(t *testing.T, s castore.BlobService, d castore.Digest, want []byte) bool {
	t.Helper()
	r, err := s.Open(ctxT(t), d)
	if err != nil {
		t.Errorf("Open(%s): %v", d, err)
		return false
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Errorf("read %s: %v", d, err)
		return false
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read %s: %d bytes that differ from the %d written", d, len(got), len(want))
		return false
	}
	return true
}

func testRoundTrips(t *testing.T, s castore.BlobService) {
	for _, n := range []int{0, 1, 1000, 128<<10 - 1, 128 << 10, 256 << 10, 512<<10 - 1, 512 << 10, 512<<10 + 1, 3 << 20} {
		data := Data(n, uint64(n))
		d := Put(t, s, data)
		if got := readAll(t, s, d); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d different bytes", n, len(got))
		}
		if ok, err := s.Has(ctxT(t), d); err != nil || !ok {
			t.Fatalf("%d bytes: Has = %v, %v", n, ok, err)
		}
		chunks, err := s.Chunks(ctxT(t), d)
		if err != nil {
			t.Fatalf("%d bytes: Chunks: %v", n, err)
		}
		var sum uint64
		for _, c := range chunks {
			sum += c.Size
		}
		if len(chunks) > 0 && sum != uint64(n) {
			t.Fatalf("%d bytes: chunks add up to %d", n, sum)
		}
	}
	// Writing the same blob again is fine and gives the same digest.
	data := Data(700<<10, 1)
	if d1, d2 := Put(t, s, data), Put(t, s, data); d1 != d2 {
		t.Fatal("same data, different digests")
	}
}

func testLarge(t *testing.T, s castore.BlobService) {
	data := Data(100<<20, 100)
	d := Put(t, s, data)
	r, err := s.Open(ctxT(t), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := castore.NewHasher()
	n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, 1<<20))
	if err != nil || n != int64(len(data)) || h.Sum() != d {
		t.Fatalf("read back %d bytes, %v, digest match %v", n, err, h.Sum() == d)
	}
}

func testNotFound(t *testing.T, s castore.BlobService) {
	d := castore.Sum([]byte("not stored"))
	if ok, err := s.Has(ctxT(t), d); err != nil || ok {
		t.Errorf("Has = %v, %v", ok, err)
	}
	if _, err := s.Open(ctxT(t), d); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("Open = %v", err)
	}
	if _, err := s.Chunks(ctxT(t), d); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("Chunks = %v", err)
	}
	// The empty blob always opens.
	if b := readAll(t, s, castore.EmptyDigest); len(b) != 0 {
		t.Errorf("empty blob has %d bytes", len(b))
	}
}

func testChunkDigests(t *testing.T, s castore.BlobService) {
	data := Data(5<<20, 5)
	d := Put(t, s, data)
	chunks, err := s.Chunks(ctxT(t), d)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for i, c := range chunks {
		if ok, err := s.Has(ctxT(t), c.Digest); err != nil || !ok {
			t.Fatalf("Has(chunk %d) = %v, %v", i, ok, err)
		}
		if cc, err := s.Chunks(ctxT(t), c.Digest); err != nil || len(cc) != 0 {
			t.Fatalf("Chunks(chunk %d) = %v, %v", i, cc, err)
		}
		got := readAll(t, s, c.Digest)
		if !bytes.Equal(got, data[off:off+int(c.Size)]) {
			t.Fatalf("chunk %d reads back wrong", i)
		}
		off += int(c.Size)
	}
}

func testSeek(t *testing.T, s castore.BlobService) {
	data := Data(4<<20+333, 9)
	d := Put(t, s, data)
	r, err := s.Open(ctxT(t), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	size := int64(len(data))
	for _, off := range []int64{0, 1, size / 2, size - 1, size, size + 10} {
		if p, err := r.Seek(off, io.SeekStart); err != nil || p != off {
			t.Fatalf("Seek(%d) = %d, %v", off, p, err)
		}
		buf := make([]byte, 70000)
		n, err := io.ReadFull(r, buf)
		want := data[min(off, size):min(off+int64(len(buf)), size)]
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("read after Seek(%d): wrong bytes", off)
		}
		if off+int64(len(buf)) > size && err != io.ErrUnexpectedEOF && err != io.EOF {
			t.Fatalf("read past the end after Seek(%d): %v", off, err)
		}
	}
	if p, err := r.Seek(-5, io.SeekEnd); err != nil || p != size-5 {
		t.Fatalf("Seek(-5, End) = %d, %v", p, err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek to a negative position succeeded")
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			rr := rand.New(rand.NewPCG(uint64(i), 1))
			for range 20 {
				off := rr.Int64N(size)
				buf := make([]byte, rr.IntN(300<<10)+1)
				n, err := r.ReadAt(buf, off)
				end := min(off+int64(len(buf)), size)
				if int64(n) != end-off || (n < len(buf) && err != io.EOF) || (n == len(buf) && err != nil && err != io.EOF) {
					t.Errorf("ReadAt(%d, %d) = %d, %v", off, len(buf), n, err)
					return
				}
				if !bytes.Equal(buf[:n], data[off:end]) {
					t.Errorf("ReadAt(%d, %d): wrong bytes", off, len(buf))
					return
				}
			}
		})
	}
	wg.Wait()
}

func testConcurrent(t *testing.T, s castore.BlobService) {
	shared := Data(2<<20, 77)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			data := shared
			if i%2 == 1 {
				data = Data(1<<20+i, uint64(1000+i))
			}
			w := s.Create(ctxT(t))
			if _, err := w.Write(data); err != nil {
				t.Errorf("writer %d: %v", i, err)
				return
			}
			d, err := w.Close()
			if err != nil || d != castore.Sum(data) {
				t.Errorf("writer %d: %s %v", i, d, err)
				return
			}
			r, err := s.Open(ctxT(t), d)
			if err != nil {
				t.Errorf("writer %d: Open: %v", i, err)
				return
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("writer %d: read back: %v", i, err)
			}
		})
	}
	wg.Wait()
}

// failingReader fails after n bytes.
type failingReader struct {
	data []byte
	n    int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, fmt.Errorf("source broke")
	}
	k := copy(p, f.data[:min(len(p), f.n)])
	f.data, f.n = f.data[k:], f.n-k
	return k, nil
}

func testAbandoned(t *testing.T, s castore.BlobService) {
	data := Data(3<<20, 33)
	d := castore.Sum(data)
	// Cancelled halfway.
	c, cancel := context.WithCancel(context.Background())
	w := s.Create(c)
	if _, err := w.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	cancel()
	w.Write(data[len(data)/2:])
	if _, err := w.Close(); err == nil {
		t.Fatal("Close after cancel succeeded")
	}
	// A source that fails halfway: the caller never closes successfully.
	w = s.Create(ctxT(t))
	c2, cancel2 := context.WithCancel(context.Background())
	w2 := s.Create(c2)
	if _, err := io.Copy(w2, &failingReader{data: data, n: len(data) / 2}); err == nil {
		t.Fatal("copy from a failing source succeeded")
	}
	cancel2()
	w2.Close()
	_ = w
	if ok, err := s.Has(ctxT(t), d); err != nil || ok {
		t.Fatalf("an abandoned blob is present: %v %v", ok, err)
	}
	if _, err := s.Open(ctxT(t), d); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("Open of an abandoned blob: %v", err)
	}
}
