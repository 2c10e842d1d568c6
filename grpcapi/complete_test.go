package grpcapi_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/objectstore/memstore"
)

// Issue 19, case 1: a directory naming a blob the server lacks, or with
// another size, is FAILED_PRECONDITION naming the entry and the blob, and
// nothing of its closure is stored; once the blob is uploaded, the same
// closure goes in.
func TestPutNeedsBlobs(t *testing.T) {
	objects := memstore.New()
	blobs, err := chunkstore.NewChunked(objects, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := newWireEnv(t, blobs, dirstore.NewMemory())
	ctx := ctxT(t)
	small, big, later := []byte("hello"), blobtest.Data(2<<20, 19), []byte("uploaded later")
	smallD, bigD, laterD := blobtest.Put(t, blobs, small), blobtest.Put(t, blobs, big), castore.Sum(later)
	file := func(name string, d castore.Digest, size int) castore.Entry {
		return castore.Entry{Name: castore.PathComponent(name), Node: castore.FileNode(d, uint64(size), false)}
	}
	closureOf := func(es ...castore.Entry) []*castore.Directory {
		leaf, err := castore.NewDirectory(es...)
		if err != nil {
			t.Fatal(err)
		}
		root, err := castore.NewDirectory(castore.Entry{Name: "sub", Node: leaf.Node()}, file("top", smallD, len(small)))
		if err != nil {
			t.Fatal(err)
		}
		return []*castore.Directory{leaf, root}
	}
	refused := func(what, entry string, d castore.Digest, cl []*castore.Directory) {
		t.Helper()
		_, err := putStream(ctx, e.dc, toPB(cl...))
		wantCode(t, what, err, codes.FailedPrecondition)
		if msg := status.Convert(err).Message(); !strings.Contains(msg, `"`+entry+`"`) || !strings.Contains(msg, d.String()) {
			t.Errorf("%s: %q names neither entry %q nor blob %s", what, msg, entry, d)
		}
		for _, dir := range cl {
			dd := dir.Digest()
			gs, err := e.dc.Get(ctx, &pb.GetDirectoryRequest{ByWhat: &pb.GetDirectoryRequest_Digest{Digest: dd[:]}})
			if err == nil {
				_, err = gs.Recv()
			}
			if status.Code(err) != codes.NotFound {
				t.Errorf("%s: directory %s is there after the refusal (%v)", what, dd, err)
			}
		}
	}
	refused("a missing blob", "later", laterD, closureOf(file("big", bigD, len(big)), file("later", laterD, len(later))))
	refused("a blob of one chunk with the wrong size", "short", smallD, closureOf(file("short", smallD, 3)))
	refused("a chunked blob with the wrong size", "long", bigD, closureOf(file("long", bigD, len(big)+1)))

	// The castore client sees ErrIncomplete.
	dc := grpcapi.NewDirectoryClient(e.conn)
	p := dc.NewPutter(ctx)
	for _, d := range closureOf(file("later", laterD, len(later))) {
		if err := p.Put(d); err != nil {
			break
		}
	}
	if _, err := p.Close(); !errors.Is(err, castore.ErrIncomplete) {
		t.Errorf("putter Close = %v, want ErrIncomplete", err)
	}

	// Uploaded first, as tvix clients do, it goes in; and so does one
	// stored by an earlier server over the same objects (a fresh store
	// that knows none of them).
	blobtest.Put(t, grpcapi.NewBlobClient(e.conn), later)
	cl := closureOf(file("big", bigD, len(big)), file("later", laterD, len(later)))
	if _, err := putStream(ctx, e.dc, toPB(cl...)); err != nil {
		t.Fatalf("Put after the upload: %v", err)
	}
	fresh, err := chunkstore.NewChunked(objects, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e2 := newWireEnv(t, fresh, dirstore.NewMemory())
	if _, err := putStream(ctx, e2.dc, toPB(cl...)); err != nil {
		t.Fatalf("Put to a server that has the blobs from before: %v", err)
	}
	// A single directory Put is checked as well.
	leaf, _ := castore.NewDirectory(file("absent", castore.Sum([]byte("absent")), 6))
	if _, err := dc.Put(ctx, leaf); !errors.Is(err, castore.ErrIncomplete) {
		t.Errorf("Put of one directory naming an absent blob = %v, want ErrIncomplete", err)
	}
}
