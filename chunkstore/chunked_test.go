package chunkstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
)

// counting counts the requests made of a Store.
type counting struct {
	objectstore.Store
	gets, puts, heads, lists atomic.Int64
}

func (c *counting) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}
func (c *counting) Put(ctx context.Context, key string, r io.Reader) error {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, r)
}
func (c *counting) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	c.puts.Add(1)
	return c.Store.PutIfAbsent(ctx, key, r)
}
func (c *counting) Head(ctx context.Context, key string) (objectstore.ObjectInfo, error) {
	c.heads.Add(1)
	return c.Store.Head(ctx, key)
}
func (c *counting) List(ctx context.Context, prefix string) iter.Seq2[objectstore.ObjectInfo, error] {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix)
}
func (c *counting) total() int64 {
	return c.gets.Load() + c.puts.Load() + c.heads.Load() + c.lists.Load()
}
func (c *counting) reset() { c.gets.Store(0); c.puts.Store(0); c.heads.Store(0); c.lists.Store(0) }

func keys(t *testing.T, s objectstore.Store, prefix string) map[string]int64 {
	out := map[string]int64{}
	for oi, err := range s.List(t.Context(), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		out[oi.Key] = oi.Size
	}
	return out
}

// After writes, the objects are exactly at tvix's paths: chunks decompress
// to bytes whose BLAKE3 is their key, and the index decodes as a
// StatBlobResponse listing them.
func TestLayout(t *testing.T) {
	mem := memstore.New()
	c := chunked(t, mem)
	big := blobtest.Data(3<<20, 1)
	small := []byte("Hello World!")
	bd := blobtest.Put(t, c, big)
	sd := blobtest.Put(t, c, small)
	blobtest.Put(t, c, nil)

	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	chunks := keys(t, mem, "chunks/")
	for key := range chunks {
		r, _ := mem.Get(t.Context(), key)
		comp, _ := io.ReadAll(r)
		data, err := dec.DecodeAll(comp, nil)
		if err != nil {
			t.Fatalf("%s: not zstd: %v", key, err)
		}
		d := castore.Sum(data)
		if key != "chunks/b3/"+d.Hex()[:4]+"/"+d.Hex() {
			t.Fatalf("chunk of digest %s stored at %s", d.Hex(), key)
		}
	}
	if _, ok := chunks["chunks/b3/5ca7/5ca7815adcb484e9a136c11efe69c1d530176d549b5d18d038eb5280b4b3470c"]; !ok {
		t.Fatal("the single-chunk blob is not stored as a chunk under its own digest")
	}
	idx := keys(t, mem, "blobs/")
	if len(idx) != 1 {
		t.Fatalf("indexes: %v, want only the big blob's", idx)
	}
	r, err := mem.Get(t.Context(), "blobs/b3/"+bd.Hex()[:4]+"/"+bd.Hex())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	metas, err := chunkfmt.DecodeIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, m := range metas {
		total += m.Size
		if _, ok := chunks[chunkfmt.ChunkKey(m.Digest)]; !ok {
			t.Fatalf("index lists %s, which is not stored", m.Digest)
		}
		if m.Size < 128<<10 && total != uint64(len(big)) || m.Size > 512<<10 {
			t.Fatalf("chunk of %d bytes is outside the FastCDC bounds", m.Size)
		}
	}
	if total != uint64(len(big)) || len(chunks) != len(metas)+1 {
		t.Fatalf("index covers %d bytes in %d chunks; %d chunk objects", total, len(metas), len(chunks))
	}
	_ = sd
}

// A bucket written by hand in tvix's layout reads back: an index listing
// chunks compressed by another zstd encoder, and a single-chunk blob.
func TestReadsHandMadeBucket(t *testing.T) {
	mem := memstore.New()
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	parts := [][]byte{blobtest.Data(100000, 1), blobtest.Data(5, 2), blobtest.Data(300000, 3)}
	var metas []castore.ChunkMeta
	var whole []byte
	for _, p := range parts {
		d := castore.Sum(p)
		mem.Put(t.Context(), chunkfmt.ChunkKey(d), bytes.NewReader(enc.EncodeAll(p, nil)))
		metas = append(metas, castore.ChunkMeta{Digest: d, Size: uint64(len(p))})
		whole = append(whole, p...)
	}
	bd := castore.Sum(whole)
	mem.Put(t.Context(), chunkfmt.IndexKey(bd), bytes.NewReader(chunkfmt.EncodeIndex(metas)))
	c := chunked(t, mem)
	r, err := c.Open(t.Context(), bd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("hand-made blob: %v", err)
	}
	cs, err := c.Chunks(t.Context(), bd)
	if err != nil || len(cs) != 3 {
		t.Fatalf("Chunks = %v, %v", cs, err)
	}
	r, err = c.Open(t.Context(), metas[1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); !bytes.Equal(got, parts[1]) {
		t.Fatal("single chunk reads back wrong")
	}
}

// Writing the same 64 MiB twice stores nothing new; one byte inserted in
// the middle stores at most 3 new chunks.
func TestDedup(t *testing.T) {
	mem := memstore.New()
	c := chunked(t, mem)
	data := blobtest.Data(64<<20, 64)
	blobtest.Put(t, c, data)
	before := len(keys(t, mem, "chunks/"))
	blobtest.Put(t, chunked(t, mem), data) // a fresh store: no known-chunk memory
	if after := len(keys(t, mem, "chunks/")); after != before {
		t.Fatalf("rewriting stored %d new chunks", after-before)
	}
	edited := append(append(append([]byte{}, data[:32<<20]...), 'x'), data[32<<20:]...)
	blobtest.Put(t, c, edited)
	if n := len(keys(t, mem, "chunks/")) - before; n > 3 {
		t.Fatalf("one inserted byte stored %d new chunks", n)
	} else {
		t.Logf("one inserted byte in 64 MiB: %d new chunks of %d", n, before)
	}
}

// Request economy: put-if-absent without HEADs; rewriting known data costs
// no request per chunk; Has of a stored blob costs one request.
func TestRequestCounts(t *testing.T) {
	cnt := &counting{Store: memstore.New()}
	c := chunked(t, cnt)
	data := blobtest.Data(8<<20, 8)
	d := blobtest.Put(t, c, data)
	chunks, _ := c.Chunks(t.Context(), d)
	if h := cnt.heads.Load(); h != 0 {
		t.Errorf("writing made %d HEAD requests, want 0", h)
	}
	if p := cnt.puts.Load(); p != int64(len(chunks))+1 {
		t.Errorf("writing %d chunks made %d puts, want one per chunk and one for the index", len(chunks), p)
	}
	cnt.reset()
	blobtest.Put(t, c, data)
	if n := cnt.total(); n != 1 {
		t.Errorf("rewriting a known blob made %d requests, want 1 (the index)", n)
	}
	// A fresh store (nothing known): Has of a chunked blob and of a
	// single-chunk blob.
	c2 := chunked(t, cnt)
	small := blobtest.Put(t, chunked(t, cnt), []byte("small"))
	cnt.reset()
	if ok, err := c2.Has(t.Context(), small); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if n := cnt.total(); n != 1 {
		t.Errorf("Has of a stored single-chunk blob made %d requests, want 1", n)
	}
	cnt.reset()
	if ok, err := c2.Has(t.Context(), d); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// The chunk key is tried first (most blobs are one chunk), then the
	// index: a chunked blob costs two requests on a cold cache.
	if n := cnt.total(); n > 2 {
		t.Errorf("Has of a stored chunked blob made %d requests, want at most 2", n)
	}
	cnt.reset()
	c2.Has(t.Context(), d)
	if n := cnt.total(); n != 0 {
		t.Errorf("a second Has made %d requests, want 0", n)
	}
}

// Damage to stored chunks is an error naming the chunk, never wrong bytes
// or a short read that looks like the end.
func TestFaults(t *testing.T) {
	data := blobtest.Data(2<<20, 2)
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, mem *memstore.Store, key string)
		want   string
	}{
		{"corrupted", func(t *testing.T, mem *memstore.Store, key string) {
			r, _ := mem.Get(t.Context(), key)
			b, _ := io.ReadAll(r)
			b[len(b)/2] ^= 1
			mem.Put(t.Context(), key, bytes.NewReader(b))
		}, "corrupt"},
		{"missing", func(t *testing.T, mem *memstore.Store, key string) { mem.Delete(t.Context(), key) }, "missing"},
		{"truncated", func(t *testing.T, mem *memstore.Store, key string) {
			r, _ := mem.Get(t.Context(), key)
			b, _ := io.ReadAll(r)
			mem.Put(t.Context(), key, bytes.NewReader(b[:len(b)-10]))
		}, "decompress"},
		{"foreign", func(t *testing.T, mem *memstore.Store, key string) {
			enc, _ := zstd.NewWriter(nil)
			mem.Put(t.Context(), key, bytes.NewReader(enc.EncodeAll(blobtest.Data(200000, 9), nil)))
		}, "corrupt"},
		{"bomb", func(t *testing.T, mem *memstore.Store, key string) {
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(1<<20))
			mem.Put(t.Context(), key, bytes.NewReader(enc.EncodeAll(make([]byte, 256<<20), nil)))
		}, "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memstore.New()
			c := chunked(t, mem)
			d := blobtest.Put(t, c, data)
			chunks, _ := c.Chunks(t.Context(), d)
			tc.damage(t, mem, chunkfmt.ChunkKey(chunks[1].Digest))
			fresh := chunked(t, mem)
			r, err := fresh.Open(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err == nil {
				t.Fatalf("read %d bytes of a damaged blob without an error", len(got))
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), chunks[1].Digest.String()) {
				t.Fatalf("error %q does not say %q and name the chunk", err, tc.want)
			}
			if !bytes.Equal(got, data[:len(got)]) {
				t.Fatal("bytes before the error are wrong")
			}
			if !errors.Is(err, castore.ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
		})
	}
}

// A chunk object that decompresses to 1 GiB (a decompression bomb), as a
// chunk of an indexed blob and as a single-chunk blob, is refused while
// what is allocated stays within the chunk bound.
func TestChunkDecompressionBomb(t *testing.T) {
	var bomb bytes.Buffer
	enc, _ := zstd.NewWriter(&bomb, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(1<<20))
	zeros := make([]byte, 1<<20)
	for range 1024 {
		enc.Write(zeros)
	}
	enc.Close()
	mem := memstore.New()
	c := chunked(t, mem)
	data := blobtest.Data(2<<20, 21)
	blob := blobtest.Put(t, c, data)
	chunks, _ := c.Chunks(t.Context(), blob)
	single := blobtest.Put(t, c, []byte("a single chunk"))
	for _, key := range []string{chunkfmt.ChunkKey(chunks[0].Digest), chunkfmt.ChunkKey(single)} {
		mem.Put(t.Context(), key, bytes.NewReader(bomb.Bytes()))
	}
	for name, d := range map[string]castore.Digest{"chunk of a blob": blob, "single-chunk blob": single} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			fresh, err := chunkstore.NewChunked(mem, chunkstore.ChunkedOptions{}) // not closed: mem is shared
			if err != nil {
				t.Fatal(err)
			}
			if r, oerr := fresh.Open(t.Context(), d); oerr != nil {
				err = oerr
			} else {
				_, err = io.Copy(io.Discard, r)
				r.Close()
			}
			runtime.ReadMemStats(&after)
			if !errors.Is(err, castore.ErrCorrupt) {
				t.Fatalf("reading a %d-byte bomb: %v, want a corrupt-chunk error", bomb.Len(), err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*chunkfmt.MaxChunkObject {
				t.Fatalf("reading a bomb allocated %d MiB", alloc>>20)
			}
		})
	}
}

// A blob no longer than the minimum chunk size is stored as one chunk
// without the chunker; one byte more goes through it. Either way the
// digest and the stored objects are those of the whole blob, however it
// was written, and a cancelled small blob stores nothing.
func TestSmallBlobThreshold(t *testing.T) {
	const minChunk = chunkstore.DefaultAvgChunkSize / 2
	for _, n := range []int{1, minChunk - 1, minChunk, minChunk + 1, 2*minChunk + 7} {
		data := blobtest.Data(n, uint64(n))
		var first map[string]int64
		for _, piece := range []int{n, 1000, minChunk} {
			mem := memstore.New()
			c := chunked(t, mem)
			w := c.Create(t.Context())
			for rest := data; len(rest) > 0; {
				k := min(piece, len(rest))
				if m, err := w.Write(rest[:k]); err != nil || m != k {
					t.Fatalf("%d bytes in pieces of %d: write: %d, %v", n, piece, m, err)
				}
				rest = rest[k:]
			}
			d, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			if d != castore.Sum(data) {
				t.Fatalf("%d bytes in pieces of %d: digest %s, want %s", n, piece, d, castore.Sum(data))
			}
			chunks, idx := keys(t, mem, "chunks/"), keys(t, mem, "blobs/")
			if n <= minChunk && (len(chunks) != 1 || len(idx) != 0) {
				t.Fatalf("%d bytes: %d chunks and %d indexes stored, want one chunk and no index", n, len(chunks), len(idx))
			}
			all := keys(t, mem, "")
			if first == nil {
				first = all
			} else if !maps.Equal(all, first) {
				t.Fatalf("%d bytes in pieces of %d stored %v; in one write, %v", n, piece, all, first)
			}
			if !blobtest.ReadAndCheck(t, c, d, data) {
				t.Fatalf("%d bytes in pieces of %d read back wrong", n, piece)
			}
		}
	}

	mem := memstore.New()
	c := chunked(t, mem)
	ctx, cancel := context.WithCancel(t.Context())
	w := c.Create(ctx)
	if _, err := w.Write([]byte("abandoned")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := w.Close(); err == nil {
		t.Fatal("Close of a cancelled small blob succeeded")
	}
	if got := keys(t, mem, ""); len(got) != 0 {
		t.Fatalf("a cancelled small blob stored %v", got)
	}
}

// One goroutine writing two blobs by turns: the first blob's chunker,
// waiting for more of its bytes, must not hold up the second blob's (the
// chunkers share fastcdc's table under a lock, given up while waiting for
// input). Run with -race, this is also the check that the table is
// never written while read.
func TestInterleavedWriters(t *testing.T) {
	c := chunked(t, memstore.New())
	a, b := blobtest.Data(3<<20, 31), blobtest.Data(3<<20, 32)
	done := make(chan error, 1)
	go func() {
		wa, wb := c.Create(t.Context()), c.Create(t.Context())
		// Pieces larger than a small blob, so that the first one starts
		// a chunker, and smaller than a chunker's buffer, so that the
		// chunker then waits for more.
		const piece = 200 << 10
		for off := 0; off < len(a); off += piece {
			end := min(off+piece, len(a))
			if _, err := wa.Write(a[off:end]); err != nil {
				done <- err
				return
			}
			if _, err := wb.Write(b[off:end]); err != nil {
				done <- err
				return
			}
		}
		da, err := wa.Close()
		if err == nil && da != castore.Sum(a) {
			err = fmt.Errorf("first blob stored as %s, want %s", da, castore.Sum(a))
		}
		if err != nil {
			done <- err
			return
		}
		db, err := wb.Close()
		if err == nil && db != castore.Sum(b) {
			err = fmt.Errorf("second blob stored as %s, want %s", db, castore.Sum(b))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("writing two blobs by turns from one goroutine is stuck")
	}
}
