package grpcapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/objectstore/memstore"
)

// castore.v1.ChunkService on the wire: a chunk comes as its stored zstd
// data in messages of at most ReadMessageSize; a short digest is
// INVALID_ARGUMENT; an unknown digest and a blob of several chunks are
// NOT_FOUND; a store that keeps no compressed chunks has no ChunkService.
func TestChunkServiceWire(t *testing.T) {
	ctx := ctxT(t)
	blobs, _ := embeddedDefault(t)
	l := listenTCP(t)
	serve(t, l, blobs, nil)
	cc := pb.NewChunkServiceClient(dial(t, "grpc+http://"+l.Addr().String()))
	read := func(cc pb.ChunkServiceClient, d []byte) ([]byte, []int, error) {
		stream, err := cc.ReadCompressed(ctx, &pb.ReadCompressedRequest{Digest: d})
		if err != nil {
			return nil, nil, err
		}
		return readAll(t, stream)
	}

	// An incompressible chunk of 3 MiB: more than one message.
	big, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{AvgChunkSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	l2 := listenTCP(t)
	serve(t, l2, big, nil)
	bigData := randBytes(3<<20, 9)
	bigD := blobtest.Put(t, big, bigData)
	comp, sizes, err := read(pb.NewChunkServiceClient(dial(t, "grpc+http://"+l2.Addr().String())), bigD[:])
	if err != nil {
		t.Fatal(err)
	}
	if slices.Max(sizes) > grpcapi.ReadMessageSize {
		t.Fatalf("messages of %v bytes", sizes)
	}
	if got, err := chunkfmt.DecodeChunk(bigD, comp, -1); err != nil || !bytes.Equal(got, bigData) || len(sizes) < 3 {
		t.Fatalf("3 MiB chunk in %d messages: %v", len(sizes), err)
	}

	data := blobtest.Data(2<<20, 5)
	blob := blobtest.Put(t, blobs, data)
	chunks, err := blobs.Chunks(ctx, blob)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("chunks: %d, %v", len(chunks), err)
	}
	comp, _, err = read(cc, chunks[1].Digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if got, err := chunkfmt.DecodeChunk(chunks[1].Digest, comp, int64(chunks[1].Size)); err != nil || !bytes.Equal(got, data[chunks[0].Size:chunks[0].Size+chunks[1].Size]) {
		t.Fatalf("chunk #1 decodes to other bytes: %v", err)
	}
	unknown := castore.Sum([]byte("never stored"))
	_, _, err = read(cc, unknown[:])
	wantCode(t, "unknown digest", err, codes.NotFound)
	_, _, err = read(cc, blob[:])
	wantCode(t, "blob of several chunks", err, codes.NotFound)
	_, _, err = read(cc, unknown[:31])
	wantCode(t, "31-byte digest", err, codes.InvalidArgument)

	lm := listenTCP(t)
	serve(t, lm, chunkstore.NewMemory(), nil)
	_, _, err = read(pb.NewChunkServiceClient(dial(t, "grpc+http://"+lm.Addr().String())), unknown[:])
	wantCode(t, "memory store", err, codes.Unimplemented)
}

// calls counts the RPCs a server receives, by method.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	c.mu.Lock()
	c.n[info.FullMethod]++
	c.mu.Unlock()
	return h(srv, ss)
}

// take returns the counts of compressed and plain reads, and starts over.
func (c *calls) take() (compressed, plain int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	compressed, plain = c.n["/castore.v1.ChunkService/ReadCompressed"], c.n["/tvix.castore.v1.BlobService/Read"]
	clear(c.n)
	return
}

// servedCounting serves blobs on loopback, counting reads, and returns a
// client.
func servedCounting(t *testing.T, blobs castore.BlobService) (*grpcapi.BlobClient, *calls) {
	c := &calls{n: map[string]int{}}
	// Calls of services not registered are counted too, and refused as
	// grpc-go refuses them.
	unknown := grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		return status.Error(codes.Unimplemented, "unknown service")
	})
	s := grpc.NewServer(append(grpcapi.ServerOptions(), grpc.StreamInterceptor(c.intercept), unknown)...)
	grpcapi.Register(s, blobs, nil)
	l := listenTCP(t)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return grpcapi.NewBlobClient(dial(t, "grpc+http://"+l.Addr().String())), c
}

// servedHostile serves blobs as tvix.castore.v1.BlobService and chunks
// (a hostile castore.v1.ChunkService) on loopback, counting calls, and
// returns a client.
func servedHostile(t *testing.T, blobs castore.BlobService, chunks pb.ChunkServiceServer) (*grpcapi.BlobClient, *calls) {
	c := &calls{n: map[string]int{}}
	s := grpc.NewServer(append(grpcapi.ServerOptions(), grpc.StreamInterceptor(c.intercept))...)
	pb.RegisterBlobServiceServer(s, grpcapi.NewBlobServer(blobs))
	pb.RegisterChunkServiceServer(s, chunks)
	l := listenTCP(t)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return grpcapi.NewBlobClient(dial(t, "grpc+http://"+l.Addr().String())), c
}

func readWhole(t *testing.T, bc castore.BlobService, d castore.Digest) []byte {
	t.Helper()
	r, err := bc.Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The client reads every chunk compressed from a store that keeps them so,
// and only with Read from one that does not (after one refused ask), or
// when told to read plainly. Through a near/far cache, a chunk not yet in
// near is read with Read (which brings it into near) and compressed the
// next time.
func TestBlobClientReadsCompressed(t *testing.T) {
	data := blobtest.Data(3<<20, 11)
	small := []byte("a blob of one chunk")
	check := func(t *testing.T, bc *grpcapi.BlobClient, c *calls, blobs castore.BlobService, wantCompressed, wantPlain func(chunks int) int) {
		t.Helper()
		d := blobtest.Put(t, blobs, data)
		chunks, err := blobs.Chunks(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		c.take()
		if !bytes.Equal(readWhole(t, bc, d), data) {
			t.Fatal("read other bytes than were put")
		}
		if comp, plain := c.take(); comp != wantCompressed(len(chunks)) || plain != wantPlain(len(chunks)) {
			t.Fatalf("%d chunks read with %d ReadCompressed and %d Read, want %d and %d", len(chunks), comp, plain, wantCompressed(len(chunks)), wantPlain(len(chunks)))
		}
	}
	n := func(k int) func(int) int { return func(int) int { return k } }
	all := func(chunks int) int { return chunks }

	t.Run("embedded", func(t *testing.T) {
		blobs, _ := embeddedDefault(t)
		bc, c := servedCounting(t, blobs)
		check(t, bc, c, blobs, all, n(0))
		sd := blobtest.Put(t, blobs, small)
		c.take()
		if got := readWhole(t, bc, sd); !bytes.Equal(got, small) {
			t.Fatalf("single-chunk blob read as %q", got)
		}
		if comp, plain := c.take(); comp != 1 || plain != 0 {
			t.Fatalf("single-chunk blob read with %d ReadCompressed and %d Read", comp, plain)
		}
	})
	t.Run("plain reads", func(t *testing.T) {
		blobs, _ := embeddedDefault(t)
		bc, c := servedCounting(t, blobs)
		bc.PlainReads = true
		check(t, bc, c, blobs, n(0), all)
	})
	t.Run("memory store", func(t *testing.T) {
		blobs := chunkstore.NewMemory()
		bc, c := servedCounting(t, blobs)
		// A memory store does not split blobs: one ask, refused, then Read.
		check(t, bc, c, blobs, n(1), n(1))
		check(t, bc, c, blobs, n(0), n(1))
	})
	t.Run("near/far", func(t *testing.T) {
		near, far := chunked(t), chunked(t)
		nf, err := chunkstore.NewNearFar(near, far, chunkstore.NearFarOptions{Write: chunkstore.WriteFar})
		if err != nil {
			t.Fatal(err)
		}
		bc, c := servedCounting(t, nf)
		// Near lacks them: the server reads them compressed from far,
		// and keeps them in near as they came.
		check(t, bc, c, nf, all, n(0))
		check(t, bc, c, nf, all, n(0))
		chunks, _ := far.Chunks(t.Context(), castore.Sum(data))
		for _, cm := range chunks {
			if ok, err := near.Has(t.Context(), cm.Digest); !ok || err != nil {
				t.Fatalf("near lacks chunk %s after a read: %v", cm.Digest, err)
			}
		}
	})
}

func chunked(t *testing.T) *chunkstore.Chunked {
	c, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// hostileChunks is a ChunkService that answers every ask with what
// answer makes of the true stored data.
type hostileChunks struct {
	pb.UnimplementedChunkServiceServer
	store  *chunkstore.Chunked
	answer func(comp []byte) [][]byte
}

func (h hostileChunks) ReadCompressed(req *pb.ReadCompressedRequest, stream grpc.ServerStreamingServer[pb.CompressedData]) error {
	d, _ := castore.DigestFromBytes(req.Digest)
	comp, err := h.store.ReadCompressedChunk(stream.Context(), d)
	if err != nil {
		return err
	}
	for _, m := range h.answer(comp) {
		if err := stream.Send(&pb.CompressedData{Data: m}); err != nil {
			return err
		}
	}
	return nil
}

// lying serves other bytes than it stores for every blob and chunk: one
// byte flipped.
type lying struct{ *chunkstore.Chunked }

func (l lying) Open(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	r, err := l.Chunked.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	data[len(data)/2] ^= 1
	return nopReader{bytes.NewReader(data)}, nil
}

type nopReader struct{ *bytes.Reader }

func (nopReader) Close() error { return nil }

// A server whose ChunkService sends anything but the chunk (garbage, an
// other chunk, a cut frame, a bomb, endless data) costs the client a
// plain Read of the chunk, whose bytes the server verified: the read
// returns exactly the blob. If Read lies too, the read fails with
// ErrCorrupt. Never wrong bytes, never a hang.
func TestBlobClientRefusesHostileChunks(t *testing.T) {
	zeros := func() []byte {
		enc, _ := zstd.NewWriter(nil)
		return enc.EncodeAll(make([]byte, chunkfmt.MaxChunkObject+1), nil)
	}()
	other := func() []byte {
		enc, _ := zstd.NewWriter(nil)
		return enc.EncodeAll(blobtest.Data(300<<10, 99), nil)
	}()
	answers := map[string]func([]byte) [][]byte{
		"garbage":     func([]byte) [][]byte { return [][]byte{[]byte("not zstd")} },
		"other chunk": func([]byte) [][]byte { return [][]byte{other} },
		"cut frame":   func(c []byte) [][]byte { return [][]byte{c[:len(c)-5]} },
		"bomb":        func([]byte) [][]byte { return [][]byte{zeros} },
		"endless": func(c []byte) [][]byte {
			out := make([][]byte, 200)
			for i := range out {
				out[i] = make([]byte, 64<<10)
			}
			return append([][]byte{c}, out...)
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
				bc, c := servedHostile(t, blobs, hostileChunks{store: store, answer: answer})
				for _, data := range [][]byte{blobtest.Data(2<<20, 1), []byte("one chunk")} {
					d := blobtest.Put(t, store, data)
					c.take()
					r, err := bc.Open(t.Context(), d)
					var got []byte
					if err == nil {
						got, err = io.ReadAll(r)
						r.Close()
					}
					switch {
					case readLies && !errors.Is(err, castore.ErrCorrupt):
						t.Fatalf("reading a %d-byte blob: %v, want a corrupt-chunk error", len(data), err)
					case !readLies && (err != nil || !bytes.Equal(got, data)):
						t.Fatalf("reading a %d-byte blob: %d bytes, %v; want the blob", len(data), len(got), err)
					}
					if comp, _ := c.take(); comp == 0 {
						t.Fatal("the client did not ask for compressed chunks")
					}
				}
			})
		}
	}
}

// A near/far cache whose far is a client of a server with a hostile
// ChunkService (a frontend's cache, a mount's) reads every blob right,
// through Read, and keeps only chunks that check out.
func TestNearFarOverHostileChunks(t *testing.T) {
	store := chunked(t)
	far, _ := servedHostile(t, store, hostileChunks{store: store, answer: func(c []byte) [][]byte { return [][]byte{c[:len(c)-5]} }})
	near := chunked(t)
	nf, err := chunkstore.NewNearFar(near, far, chunkstore.NearFarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{blobtest.Data(2<<20, 1), []byte("one chunk")} {
		d := blobtest.Put(t, store, data)
		if !blobtest.ReadAndCheck(t, nf, d, data) {
			t.FailNow()
		}
		if !blobtest.ReadAndCheck(t, near, d, data) {
			t.FailNow()
		}
	}
}
