//go:build linux

package fusefront_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/fusefront"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore/memstore"
)

// remote is a server's stores (its blobs in objects), served over gRPC
// on loopback, and a mount's view of them: the local cache in front of a
// client, as castore mount has them.
type remote struct {
	objects *memstore.Store
	far     castore.BlobService // the server's
	fix     *fixture            // puts into the server's stores
	cache   *compose.LocalCache
}

func newRemote(t *testing.T) *remote {
	t.Helper()
	objects := memstore.New()
	far, err := chunkstore.NewChunked(objects, chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dirs := dirstore.NewMemory()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpcapi.ServerOptions()...)
	grpcapi.Register(s, far, dirs)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	t.Cleanup(func() { s.Stop(); <-done })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpcapi.Dial(ctx, "grpc+http://"+l.Addr().String()+"?wait-connect=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	log := slog.New(slog.NewTextHandler(&testenv.SyncBuffer{}, nil))
	cache, err := compose.OpenLocalCache(t.TempDir(), 1<<30, grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	return &remote{objects: objects, far: far, fix: newFixture(t, stores{far, dirs}), cache: cache}
}

// mount mounts root from the cache, with prefetch dir.
func (r *remote) mount(t *testing.T, root castore.Node) (*fusefront.Server, string, *testenv.SyncBuffer) {
	t.Helper()
	requireFUSE(t)
	logs := &testenv.SyncBuffer{}
	mnt := t.TempDir()
	srv, err := fusefront.Mount(mnt, r.cache.Blobs, r.cache.Dirs, fusefront.Root{Node: root}, fusefront.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			srv.UnmountLazy()
		}
	})
	return srv, mnt, logs
}

// pushTree stores 3 directories of 20 small files each (one of them
// twice, once executable: two inodes of one blob), an empty file and
// a file larger than the prefetch's bound, and returns the root's node
// and the contents by path.
func pushTree(f *fixture) (castore.Node, map[string][]byte) {
	files := map[string][]byte{}
	var subs []castore.Entry
	for i := range 3 {
		var es []castore.Entry
		for j := range 20 {
			data := bytes.Repeat(fmt.Appendf(nil, "file %d of directory %d\n", j, i), 1+j*37)
			name := fmt.Sprintf("f%02d", j)
			files[fmt.Sprintf("d%d/%s", i, name)] = data
			es = append(es, castore.Entry{Name: castore.PathComponent(name), Node: castore.FileNode(f.putBlob(data), uint64(len(data)), false)})
		}
		if i == 0 {
			data := files["d0/f00"]
			files["d0/x00"] = data
			es = append(es, castore.Entry{Name: "x00", Node: castore.FileNode(castore.Sum(data), uint64(len(data)), true)})
			files["d0/zero"] = nil
			es = append(es, castore.Entry{Name: "zero", Node: castore.FileNode(castore.EmptyDigest, 0, false)})
			big := bytes.Repeat([]byte("large file, read as it always was\n"), (fusefront.DefaultPrefetchMaxFile+(64<<10))/34)
			files["d0/zbig"] = big
			es = append(es, castore.Entry{Name: "zbig", Node: castore.FileNode(f.putBlob(big), uint64(len(big)), false)})
		}
		d := dirtest.MustDir(f.t, es...)
		f.putDir(d)
		subs = append(subs, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("d%d", i)), Node: d.Node()})
	}
	root := dirtest.MustDir(f.t, subs...)
	f.putDir(root)
	return root.Node(), files
}

// listAll lists every directory under mnt, which names every file to
// the kernel, and then asks for a name that is not there: one more
// request, after which the kernel knows every inode listed.
func listAll(t *testing.T, mnt string) {
	t.Helper()
	for _, d := range []string{"", "d0", "d1", "d2"} {
		if _, err := os.ReadDir(filepath.Join(mnt, d)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(mnt, "d2", "not-there")); !os.IsNotExist(err) {
		t.Fatalf("stat of a missing name: %v", err)
	}
}

// waitPushed waits until the mount has pushed want files, failing with
// what it pushed if that takes more than a minute.
func waitPushed(t *testing.T, srv *fusefront.Server, want int64, logs *testenv.SyncBuffer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for srv.Pushed() < want {
		if time.Now().After(deadline) {
			t.Fatalf("pushed %d files into the kernel's cache, want %d; log:\n%s", srv.Pushed(), want, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Once a directory is listed and its small files are in the cache, their
// contents are put into the kernel's page cache: reading them costs no
// READ request at all, and every byte read is the file's. The large file
// and the empty one are not pushed; the executable copy of a file is its
// own inode and pushed on its own.
func TestPushedFilesCostNoRead(t *testing.T) {
	r := newRemote(t)
	root, files := pushTree(r.fix)
	srv, mnt, logs := r.mount(t, root)
	listAll(t, mnt)
	const small = 3*20 + 1 // and x00
	waitPushed(t, srv, small, logs)
	before := srv.Requests()["READ"]
	for p, want := range files {
		if strings.HasSuffix(p, "zbig") {
			continue
		}
		got, err := os.ReadFile(filepath.Join(mnt, p))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: read %d bytes that differ from its %d", p, len(got), len(want))
		}
	}
	if n := srv.Requests()["READ"] - before; n != 0 {
		t.Errorf("reading %d pushed files cost %d READ requests, want none", len(files)-1, n)
	}
	got, err := os.ReadFile(filepath.Join(mnt, "d0", "zbig"))
	if err != nil || !bytes.Equal(got, files["d0/zbig"]) {
		t.Fatalf("the large file reads back wrong (%d bytes): %v", len(got), err)
	}
	if n := srv.Requests()["READ"] - before; n == 0 {
		t.Error("the large file was read without a READ request: it was pushed, and it should not be")
	}
	if p := srv.Pushed(); p != small {
		t.Errorf("pushed %d files, want %d", p, small)
	}
}

// A file whose blob the server holds damaged is never pushed: the cache
// refuses the bytes, its read is EIO, and the files beside it are pushed
// and read as ever.
func TestPushRefusesDamagedBlobs(t *testing.T) {
	r := newRemote(t)
	root, files := pushTree(r.fix)
	bad := files["d1/f07"]
	d := castore.Sum(bad)
	enc, err := chunkfmt.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.ToUpper(bad)
	if err := r.objects.Put(t.Context(), chunkfmt.ChunkKey(d), bytes.NewReader(enc.Encode(other))); err != nil {
		t.Fatal(err)
	}
	srv, mnt, logs := r.mount(t, root)
	listAll(t, mnt)
	const small = 3*20 + 1 - 1
	waitPushed(t, srv, small, logs)
	before := srv.Requests()["READ"]
	if b, err := os.ReadFile(filepath.Join(mnt, "d1", "f07")); err == nil {
		t.Fatalf("a damaged blob read back (%d bytes, original %v): want EIO", len(b), bytes.Equal(b, bad))
	} else {
		wantErrno(t, "read of a damaged blob", err, syscall.EIO)
	}
	for _, p := range []string{"d1/f06", "d1/f08", "d2/f07"} {
		if got, err := os.ReadFile(filepath.Join(mnt, p)); err != nil || !bytes.Equal(got, files[p]) {
			t.Fatalf("%s beside the damaged file: %v", p, err)
		}
	}
	if n := srv.Requests()["READ"] - before; n == 0 {
		t.Error("the damaged file was read without a READ request: something was pushed for it")
	}
	if p := srv.Pushed(); p != small {
		t.Errorf("pushed %d files, want %d (all but the damaged one)", p, small)
	}
}
