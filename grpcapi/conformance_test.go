package grpcapi_test

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/objectstore/memstore"
)

// clientOf serves dirs (and blobs) on a fresh listener and returns clients.
func clientsOf(t *testing.T, network string, blobs castore.BlobService, dirs castore.DirectoryService) (*grpcapi.BlobClient, *grpcapi.DirectoryClient) {
	var l net.Listener
	var addr string
	if network == "unix" {
		sock := filepath.Join(t.TempDir(), "castore.sock")
		var err error
		if l, err = net.Listen("unix", sock); err != nil {
			t.Fatal(err)
		}
		addr = "grpc+unix://" + sock
	} else {
		l = listenTCP(t)
		addr = "grpc+http://" + l.Addr().String()
	}
	serve(t, l, blobs, dirs)
	conn := dial(t, addr)
	return grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn)
}

// fixtureBlobs holds the blobs the directory suite's directories name:
// the server takes a directory only once its blobs are there.
func fixtureBlobs(t *testing.T) castore.BlobService {
	b := chunkstore.NewMemory()
	dirtest.StoreBlobs(t, b)
	return b
}

func TestDirectoryConformance(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network+"/memory", func(t *testing.T) {
			dirtest.Run(t, func(t *testing.T) castore.DirectoryService {
				_, dc := clientsOf(t, network, fixtureBlobs(t), dirstore.NewMemory())
				return dc
			}, dirtest.Options{PutLeavesOnly: true})
		})
		t.Run(network+"/embedded", func(t *testing.T) {
			dirtest.Run(t, func(t *testing.T) castore.DirectoryService {
				e, err := dirstore.OpenEmbedded(filepath.Join(t.TempDir(), "d.db"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { e.Close() })
				_, dc := clientsOf(t, network, fixtureBlobs(t), e)
				return dc
			}, dirtest.Options{PutLeavesOnly: true})
		})
		// The client declares castore.AddressesSome: over bundles, it
		// finds roots, and the subdirectories of closures it read (out
		// of their root's closure: TestDirectoryClientFindsBelowRoots);
		// its Put sends leaves only.
		t.Run(network+"/bundles", func(t *testing.T) {
			dirtest.Run(t, func(t *testing.T) castore.DirectoryService {
				b, err := dirstore.NewBundles(memstore.New(), 0)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				_, dc := clientsOf(t, network, fixtureBlobs(t), b)
				return dc
			}, dirtest.Options{PutLeavesOnly: true})
		})
	}
}
