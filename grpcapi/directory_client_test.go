package grpcapi_test

import (
	"errors"
	"testing"

	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/grpcapi"
)

// streamingDirs is a directory server whose every Get streams dirs.
type streamingDirs struct {
	pb.UnimplementedDirectoryServiceServer
	dirs []*castore.Directory
}

func (s streamingDirs) Get(_ *pb.GetDirectoryRequest, stream grpc.ServerStreamingServer[pb.Directory]) error {
	for _, d := range s.dirs {
		if err := stream.Send(pb.FromDirectory(d)); err != nil {
			return err
		}
	}
	return nil
}

// The client checks a closure from the server root first: a bad one is an
// error wrapping ErrCorrupt, and nothing after the first bad directory is
// yielded.
func TestDirectoryClientRefusesBadClosures(t *testing.T) {
	mk := func(es ...castore.Entry) *castore.Directory {
		d, err := castore.NewDirectory(es...)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	leaf := mk(castore.Entry{Name: "f", Node: castore.FileNode(castore.EmptyDigest, 0, false)})
	mid := mk(castore.Entry{Name: "leaf", Node: leaf.Node()})
	root := mk(castore.Entry{Name: "mid", Node: mid.Node()}, castore.Entry{Name: "l", Node: castore.SymlinkNode("t")})
	liar := mk(castore.Entry{Name: "mid", Node: castore.DirectoryNode(mid.Digest(), mid.Size()+1)})
	other := mk(castore.Entry{Name: "o", Node: castore.SymlinkNode("x")})
	for _, tc := range []struct {
		name string
		root *castore.Directory
		dirs []*castore.Directory
		good int // directories yielded before the error
	}{
		{"whole", root, []*castore.Directory{root, mid, leaf}, -1},
		{"unknown root", root, nil, -1},
		{"leaves first", root, []*castore.Directory{leaf, mid, root}, 0},
		{"not the root", root, []*castore.Directory{mid, leaf}, 0},
		{"missing leaf", root, []*castore.Directory{root, mid}, 2},
		{"foreign", root, []*castore.Directory{root, other, mid, leaf}, 1},
		{"repeated", root, []*castore.Directory{root, mid, mid, leaf}, 2},
		{"wrong size", liar, []*castore.Directory{liar, mid, leaf}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listenTCP(t)
			s := grpc.NewServer()
			pb.RegisterDirectoryServiceServer(s, streamingDirs{dirs: tc.dirs})
			go s.Serve(l)
			t.Cleanup(s.Stop)
			dc := grpcapi.NewDirectoryClient(dial(t, "grpc+http://"+l.Addr().String()))
			n := 0
			var err error
			for _, e := range dc.GetRecursive(ctxT(t), tc.root.Digest()) {
				if err = e; err != nil {
					break
				}
				n++
			}
			switch {
			case tc.good < 0 && err != nil:
				t.Fatalf("GetRecursive of a good closure: %v", err)
			case tc.good < 0 && n != len(tc.dirs):
				t.Fatalf("GetRecursive yielded %d directories, want %d", n, len(tc.dirs))
			case tc.good >= 0 && !errors.Is(err, castore.ErrCorrupt):
				t.Fatalf("GetRecursive = %v, want an error wrapping ErrCorrupt", err)
			case tc.good >= 0 && n != tc.good:
				t.Fatalf("GetRecursive yielded %d directories before the error, want %d", n, tc.good)
			}
		})
	}
}
