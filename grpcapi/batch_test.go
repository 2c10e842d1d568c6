package grpcapi_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/objectstore/memstore"
)

const batchMethod = "/castore.v1.ChunkService/ReadCompressedBatch"

// smallBlobs puts n distinct small blobs into blobs and returns them.
func smallBlobs(t *testing.T, blobs castore.BlobService, n int) ([]castore.ChunkMeta, map[castore.Digest][]byte) {
	t.Helper()
	metas := make([]castore.ChunkMeta, n)
	data := map[castore.Digest][]byte{}
	for i := range metas {
		b := fmt.Appendf(nil, "small file #%d %s", i, strings.Repeat("x", i%97))
		d := blobtest.Put(t, blobs, b)
		metas[i] = castore.ChunkMeta{Digest: d, Size: uint64(len(b))}
		data[d] = b
	}
	return metas, data
}

// readBatch calls ReadCompressedBatch and gathers the answer: each
// chunk's data (nil if missing), in order, and the message sizes.
func readBatch(t *testing.T, cc pb.ChunkServiceClient, ds [][]byte) ([]castore.Digest, [][]byte, []int, error) {
	t.Helper()
	stream, err := cc.ReadCompressedBatch(ctxT(t), &pb.ReadCompressedBatchRequest{Digests: ds})
	if err != nil {
		return nil, nil, nil, err
	}
	var got []castore.Digest
	var datas [][]byte
	var sizes []int
	for {
		m, err := stream.Recv()
		if err != nil {
			if err == io.EOF {
				return got, datas, sizes, nil
			}
			return got, datas, sizes, err
		}
		sizes = append(sizes, len(m.GetData()))
		if len(m.GetDigest()) > 0 {
			d, _ := castore.DigestFromBytes(m.GetDigest())
			got = append(got, d)
			if m.GetMissing() {
				datas = append(datas, nil)
				continue
			}
			datas = append(datas, slices.Clone(m.GetData()))
			continue
		}
		datas[len(datas)-1] = append(datas[len(datas)-1], m.GetData()...)
	}
}

// castore.v1.ChunkService.ReadCompressedBatch on the wire: chunks in the
// order asked, a chunk over 1 MiB in several messages, missing ones (an
// unknown digest, a blob of several chunks) marked so; more than
// MaxBatchDigests digests or a short one is INVALID_ARGUMENT naming it;
// an empty batch is an empty stream; a store that keeps no compressed
// chunks has no ChunkService at all.
func TestChunkServiceBatchWire(t *testing.T) {
	big, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{AvgChunkSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	l := listenTCP(t)
	serve(t, l, big, nil)
	cc := pb.NewChunkServiceClient(dial(t, "grpc+http://"+l.Addr().String()))

	metas, data := smallBlobs(t, big, 40)
	bigData := randBytes(3<<20, 7)
	bigD := blobtest.Put(t, big, bigData)
	multi := blobtest.Put(t, big, randBytes(20<<20, 3))
	if chunks, err := big.Chunks(ctxT(t), multi); err != nil || len(chunks) < 2 {
		t.Fatalf("want a blob of several chunks: %d, %v", len(chunks), err)
	}
	unknown := castore.Sum([]byte("never stored"))

	want := []castore.Digest{metas[0].Digest, bigD, unknown, metas[1].Digest, multi}
	for _, m := range metas[2:] {
		want = append(want, m.Digest)
	}
	want = append(want, metas[0].Digest) // asked twice, answered twice
	var req [][]byte
	for _, d := range want {
		req = append(req, d[:])
	}
	got, datas, sizes, err := readBatch(t, cc, req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("answered %d chunks in this order: %v; want %v", len(got), got, want)
	}
	if slices.Max(sizes) > grpcapi.ReadMessageSize {
		t.Fatalf("a message of %d bytes", slices.Max(sizes))
	}
	for i, d := range got {
		var wantData []byte
		switch d {
		case unknown, multi:
			if datas[i] != nil {
				t.Fatalf("#%d (%s) should be missing", i, d)
			}
			continue
		case bigD:
			wantData = bigData
		default:
			wantData = data[d]
		}
		if b, err := chunkfmt.DecodeChunk(d, datas[i], -1); err != nil || !bytes.Equal(b, wantData) {
			t.Fatalf("#%d (%s) decodes to other bytes: %v", i, d, err)
		}
	}

	if got, _, _, err := readBatch(t, cc, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty batch: %v, %v", got, err)
	}
	tooMany := make([][]byte, grpcapi.MaxBatchDigests+1)
	for i := range tooMany {
		tooMany[i] = unknown[:]
	}
	_, _, _, err = readBatch(t, cc, tooMany)
	wantCode(t, "1025 digests", err, codes.InvalidArgument)
	_, _, _, err = readBatch(t, cc, [][]byte{unknown[:], unknown[:31]})
	wantCode(t, "a 31-byte digest", err, codes.InvalidArgument)
	if err == nil || !strings.Contains(err.Error(), "digests[1]") {
		t.Errorf("error does not name the bad digest: %v", err)
	}

	lm := listenTCP(t)
	serve(t, lm, chunkstore.NewMemory(), nil)
	_, _, _, err = readBatch(t, pb.NewChunkServiceClient(dial(t, "grpc+http://"+lm.Addr().String())), [][]byte{unknown[:]})
	wantCode(t, "memory store", err, codes.Unimplemented)
}

// A backend failing during a batch is UNAVAILABLE.
func TestChunkServiceBatchBackendFailure(t *testing.T) {
	e := newWireEnv(t, failing{}, failing{})
	d := castore.Sum([]byte("x"))
	_, _, _, err := readBatch(t, pb.NewChunkServiceClient(e.conn), [][]byte{d[:]})
	wantCode(t, "ReadCompressedBatch", err, codes.Unavailable)
}

// ReadBlobs reads hundreds of small blobs with one batch call, a blob of
// several chunks and one too big to batch with Read, and the empty blob
// with nothing; against a server without the batch (a memory store, as a
// tvix server) it reads each with Read. A size other than the blob's is
// an error naming both; an unknown blob is NOT_FOUND.
func TestBlobClientReadBlobs(t *testing.T) {
	check := func(t *testing.T, blobs castore.BlobService, wantBatches, wantPlain int) {
		t.Helper()
		bc, c := servedCounting(t, blobs)
		metas, data := smallBlobs(t, blobs, 600)
		multiData := blobtest.Data(2<<20, 4)
		multi := castore.ChunkMeta{Digest: blobtest.Put(t, blobs, multiData), Size: 2 << 20}
		data[multi.Digest] = multiData
		all := append(slices.Clone(metas[:300]), castore.ChunkMeta{Digest: castore.EmptyDigest}, multi)
		all = append(all, metas[300:]...)
		c.take()
		var order []castore.Digest
		err := bc.ReadBlobs(ctxT(t), all, func(b castore.ChunkMeta, got []byte) error {
			order = append(order, b.Digest)
			if !bytes.Equal(got, data[b.Digest]) {
				return fmt.Errorf("blob %s read as %d other bytes", b.Digest, len(got))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(order) != len(all) {
			t.Fatalf("fn called %d times for %d blobs", len(order), len(all))
		}
		c.mu.Lock()
		batches, plain, single := c.n[batchMethod], c.n["/tvix.castore.v1.BlobService/Read"], c.n["/castore.v1.ChunkService/ReadCompressed"]
		c.mu.Unlock()
		if batches != wantBatches || plain != wantPlain || single != 0 {
			t.Fatalf("%d blobs read with %d batches, %d Read, %d ReadCompressed; want %d, %d, 0", len(all), batches, plain, single, wantBatches, wantPlain)
		}

		lie := castore.ChunkMeta{Digest: metas[5].Digest, Size: metas[5].Size + 3}
		err = bc.ReadBlobs(ctxT(t), []castore.ChunkMeta{lie}, func(castore.ChunkMeta, []byte) error { return nil })
		if !errors.Is(err, castore.ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprint(metas[5].Size)) || !strings.Contains(err.Error(), fmt.Sprint(lie.Size)) {
			t.Errorf("a size the blob does not have: %v", err)
		}
		unknown := castore.ChunkMeta{Digest: castore.Sum([]byte("never stored")), Size: 12}
		err = bc.ReadBlobs(ctxT(t), []castore.ChunkMeta{unknown}, func(castore.ChunkMeta, []byte) error { return nil })
		if !errors.Is(err, castore.ErrNotFound) {
			t.Errorf("an unknown blob: %v, want not found", err)
		}
	}
	t.Run("embedded", func(t *testing.T) {
		blobs, _ := embeddedDefault(t)
		// 600 small blobs in one batch (at most 1024 a call), the blob of
		// several chunks with Read.
		check(t, blobs, 1, 1)
	})
	t.Run("memory store", func(t *testing.T) {
		// No ChunkService: the batch is refused once, then every blob is Read.
		check(t, chunkstore.NewMemory(), 1, 601)
	})
}

// hostileBatch is a ChunkService whose batch answers are what answer
// makes of the true ones.
type hostileBatch struct {
	pb.UnimplementedChunkServiceServer
	store  *chunkstore.Chunked
	answer func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk
}

func (h hostileBatch) ReadCompressedBatch(req *pb.ReadCompressedBatchRequest, stream grpc.ServerStreamingServer[pb.CompressedChunk]) error {
	var ds []castore.Digest
	var comps [][]byte
	for _, b := range req.Digests {
		d, _ := castore.DigestFromBytes(b)
		comp, err := h.store.ReadCompressedChunk(stream.Context(), d)
		if err != nil {
			return err
		}
		ds, comps = append(ds, d), append(comps, comp)
	}
	for _, m := range h.answer(ds, comps) {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return nil
}

// A server whose batch breaks the protocol or sends other bytes (out of
// order, extra or missing chunks, data outside a chunk, data for a
// missing one, garbage, endless data) costs the client a plain Read of
// each blob it did not get right: ReadBlobs returns exactly the blobs. If
// Read lies too, it fails with ErrCorrupt. Never wrong bytes, never a
// hang.
func TestBlobClientRefusesHostileBatches(t *testing.T) {
	honest := func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
		var out []*pb.CompressedChunk
		for i, d := range ds {
			out = append(out, &pb.CompressedChunk{Digest: d[:], Data: comps[i]})
		}
		return out
	}
	answers := map[string]func([]castore.Digest, [][]byte) []*pb.CompressedChunk{
		"out of order": func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
			out := honest(ds, comps)
			out[0], out[1] = out[1], out[0]
			return out
		},
		"extra chunk": func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
			return append(honest(ds, comps), honest(ds, comps)[0])
		},
		"too few": func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
			return honest(ds, comps)[:len(ds)/2]
		},
		"data outside a chunk": func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
			return append([]*pb.CompressedChunk{{Data: []byte("stray")}}, honest(ds, comps)...)
		},
		"data for a missing chunk": func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
			out := honest(ds, comps)
			out[0].Missing = true
			return out
		},
		"all missing": func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
			var out []*pb.CompressedChunk
			for _, d := range ds {
				out = append(out, &pb.CompressedChunk{Digest: d[:], Missing: true})
			}
			return out
		},
		"garbage": func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
			out := honest(ds, comps)
			for _, m := range out {
				m.Data = []byte("not zstd at all")
			}
			return out
		},
		"swapped data": func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
			out := honest(ds, comps)
			out[0].Data, out[1].Data = out[1].Data, out[0].Data
			return out
		},
		"endless": func(ds []castore.Digest, comps [][]byte) []*pb.CompressedChunk {
			out := honest(ds, comps)[:1]
			for range 1200 {
				out = append(out, &pb.CompressedChunk{Data: make([]byte, 64<<10)})
			}
			return out
		},
	}
	for name, answer := range answers {
		for _, readLies := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/Read lies %v", name, readLies), func(t *testing.T) {
				store := chunked(t)
				var blobs castore.BlobService = store
				if readLies {
					blobs = lying{store}
				}
				bc, c := servedHostile(t, blobs, hostileBatch{store: store, answer: answer})
				metas, data := smallBlobs(t, store, 10)
				var got int
				err := bc.ReadBlobs(t.Context(), metas, func(b castore.ChunkMeta, p []byte) error {
					if !bytes.Equal(p, data[b.Digest]) {
						return fmt.Errorf("blob %s: other bytes", b.Digest)
					}
					got++
					return nil
				})
				// Right bytes, or (only when Read lies too) a corrupt-blob
				// error: a batch whose every chunk checked out before it
				// broke needs no Read.
				switch {
				case err == nil && got != len(metas):
					t.Fatalf("ReadBlobs: %d of %d blobs and no error", got, len(metas))
				case err != nil && !readLies:
					t.Fatalf("ReadBlobs: %v, want the blobs", err)
				case err != nil && !errors.Is(err, castore.ErrCorrupt):
					t.Fatalf("ReadBlobs: %v, want a corrupt-blob error", err)
				case readLies && err == nil && name != "extra chunk":
					t.Fatalf("ReadBlobs succeeded though the batch was broken and Read lies")
				}
				c.mu.Lock()
				defer c.mu.Unlock()
				if c.n[batchMethod] != 1 {
					t.Fatalf("%d batch calls, want 1", c.n[batchMethod])
				}
			})
		}
	}
}
