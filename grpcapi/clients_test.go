package grpcapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/chunkstore/blobtest"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/objectstore/filestore"
)

// embeddedDefault is the backend `castore serve` uses with no flags:
// chunked blobs in a local directory and the embedded directory store.
func embeddedDefault(t *testing.T) (castore.BlobService, castore.DirectoryService) {
	dir := t.TempDir()
	f, err := filestore.New(filepath.Join(dir, "blobs"), nil)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := chunkstore.NewChunked(f, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	dirs, err := dirstore.OpenEmbedded(filepath.Join(dir, "directories.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dirs.Close() })
	return blobs, dirs
}

func TestBlobConformance(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network+"/memory", func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) castore.BlobService {
				bc, _ := clientsOf(t, network, chunkstore.NewMemory(), dirstore.NewMemory())
				return bc
			})
		})
		t.Run(network+"/embedded", func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) castore.BlobService {
				b, d := embeddedDefault(t)
				bc, _ := clientsOf(t, network, b, d)
				return bc
			})
		})
		// Near holds only what was read: the client reads the rest plainly.
		t.Run(network+"/near-far", func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) castore.BlobService {
				nf, err := chunkstore.NewNearFar(chunked(t), chunked(t), chunkstore.NearFarOptions{Write: chunkstore.WriteFar})
				if err != nil {
					t.Fatal(err)
				}
				bc, _ := clientsOf(t, network, nf, dirstore.NewMemory())
				return bc
			})
		})
	}
}

// A client that goes away in the middle of a blob Put leaves no blob; one
// that goes away in the middle of a directory Put leaves no root.
func TestClientDisconnectLeavesNothing(t *testing.T) {
	blobs, dirs := embeddedDefault(t)
	env := newWireEnv(t, blobs, dirs)

	data := randBytes(4<<20, 7)
	ctx, cancel := context.WithCancel(context.Background())
	put, err := env.bc.Put(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(data)/2; i += 256 << 10 {
		if err := put.Send(&pb.BlobChunk{Data: data[i : i+256<<10]}); err != nil {
			t.Fatal(err)
		}
	}
	cancel() // the client goes away before CloseSend
	d := castore.Sum(data)
	// The server notices the cancel asynchronously: look for a while.
	for range 20 {
		if ok, err := blobs.Has(context.Background(), d); ok || err != nil {
			t.Fatalf("after a disconnected Put, Has = %v, %v", ok, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	half := castore.Sum(data[:len(data)/2])
	if ok, _ := blobs.Has(context.Background(), half); ok {
		t.Fatal("the half that was sent became a blob")
	}

	leaf, err := castore.NewDirectory(castore.Entry{Name: "f", Node: castore.FileNode(d, uint64(len(data)), false)})
	if err != nil {
		t.Fatal(err)
	}
	root, err := castore.NewDirectory(castore.Entry{Name: "sub", Node: leaf.Node()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	dput, err := env.dc.Put(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := dput.Send(pb.FromDirectory(leaf)); err != nil {
		t.Fatal(err)
	}
	if err := dput.Send(pb.FromDirectory(root)); err != nil {
		t.Fatal(err)
	}
	cancel() // gone before CloseSend: the server cannot know root was the last
	for range 20 {
		for _, x := range []*castore.Directory{root, leaf} {
			if _, err := dirs.Get(context.Background(), x.Digest()); !errors.Is(err, castore.ErrNotFound) {
				t.Fatalf("after a disconnected directory Put, Get(%s) = %v, want not found", x.Digest(), err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// 64 clients, each on its own connection, put and read a mix of distinct
// and identical blobs and closures; every digest is right and everything
// reads back.
func TestManyConcurrentClients(t *testing.T) {
	blobs, dirs := embeddedDefault(t)
	l := listenTCP(t)
	serve(t, l, blobs, dirs)
	addr := "grpc+http://" + l.Addr().String()
	const clients = 64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		conn := dial(t, addr)
		wg.Go(func() {
			bc, dc := grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn)
			errs <- clientWork(t.Context(), bc, dc, c)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func clientWork(ctx context.Context, bc castore.BlobService, dc castore.DirectoryService, c int) error {
	for i := range 4 {
		// Even rounds write data every client writes; odd rounds data
		// only this client writes.
		seed := byte(i)
		if i%2 == 1 {
			seed = byte(100 + c*4 + i)
		}
		data := randBytes(64<<10+int(seed)*4099, seed)
		w := bc.Create(ctx)
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("client %d: write: %w", c, err)
		}
		d, err := w.Close()
		if err != nil {
			return fmt.Errorf("client %d: close: %w", c, err)
		}
		if d != castore.Sum(data) {
			return fmt.Errorf("client %d: Put returned %s, want %s", c, d, castore.Sum(data))
		}
		leaf, err := castore.NewDirectory(castore.Entry{Name: castore.PathComponent(fmt.Sprintf("blob-%d", seed)), Node: castore.FileNode(d, uint64(len(data)), false)})
		if err != nil {
			return err
		}
		root, err := castore.NewDirectory(castore.Entry{Name: "sub", Node: leaf.Node()}, castore.Entry{Name: "l", Node: castore.SymlinkNode(fmt.Sprint(seed))})
		if err != nil {
			return err
		}
		p := dc.NewPutter(ctx)
		if err := errors.Join(p.Put(leaf), p.Put(root)); err != nil {
			return fmt.Errorf("client %d: put closure: %w", c, err)
		}
		got, err := p.Close()
		if err != nil || got != root.Digest() {
			return fmt.Errorf("client %d: putter Close = %s, %v; want %s", c, got, err, root.Digest())
		}
		r, err := bc.Open(ctx, d)
		if err != nil {
			return fmt.Errorf("client %d: open %s: %w", c, d, err)
		}
		got2, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got2, data) {
			return fmt.Errorf("client %d: read %s back: %d bytes, %v", c, d, len(got2), err)
		}
		n := 0
		for dir, err := range dc.GetRecursive(ctx, root.Digest()) {
			if err != nil {
				return fmt.Errorf("client %d: get closure: %w", c, err)
			}
			if want := []castore.Digest{root.Digest(), leaf.Digest()}[n]; dir.Digest() != want {
				return fmt.Errorf("client %d: closure #%d is %s, want %s", c, n, dir.Digest(), want)
			}
			n++
		}
		if n != 2 {
			return fmt.Errorf("client %d: closure of %d directories, want 2", c, n)
		}
	}
	return nil
}

// A directory Put larger than the server's bound is RESOURCE_EXHAUSTED and
// leaves no root.
func TestDirectoryPutBound(t *testing.T) {
	dirs := dirstore.NewMemory()
	l := listenTCP(t)
	s := grpc.NewServer(grpcapi.ServerOptions()...)
	grpcapi.Register(s, chunkstore.NewMemory(), dirs, grpcapi.WithMaxDirectoryPutBytes(4096))
	go s.Serve(l)
	t.Cleanup(s.Stop)
	dc := pb.NewDirectoryServiceClient(dial(t, "grpc+http://"+l.Addr().String()))
	put, err := dc.Put(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var below *castore.Directory
	for i := range 100 {
		es := []castore.Entry{{Name: castore.PathComponent(fmt.Sprintf("file-with-a-long-name-%03d", i)), Node: castore.FileNode(castore.EmptyDigest, 0, false)}}
		if below != nil {
			es = append(es, castore.Entry{Name: "sub", Node: below.Node()})
		}
		d, err := castore.NewDirectory(es...)
		if err != nil {
			t.Fatal(err)
		}
		if put.Send(pb.FromDirectory(d)) != nil {
			break // the server has answered
		}
		below = d
	}
	_, err = put.CloseAndRecv()
	wantCode(t, "oversized directory Put", err, codes.ResourceExhausted)
	if _, err := dirs.Get(context.Background(), below.Digest()); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("after a refused Put, Get of its last directory = %v", err)
	}
}
