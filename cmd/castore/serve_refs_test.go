//go:build linux

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/grpcapi"
)

// castore serve with no store flags answers castore.v1.RefService from
// DATA_DIR/refs.db, refusing a root whose closure it does not hold, and
// the tags outlive the server; --read-only refuses Set and Delete.
func TestServeRefs(t *testing.T) {
	dataDir := t.TempDir()
	getenv := func(k string) string {
		if k == "CASTORE_DATA_DIR" {
			return dataDir
		}
		return ""
	}
	srv := startServer(t, getenv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := grpcapi.Dial(ctx, srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	blobs, dirs, refs := grpcapi.NewBlobClient(conn), grpcapi.NewDirectoryClient(conn), grpcapi.NewRefClient(conn)

	w := blobs.Create(ctx)
	w.Write([]byte("tagged"))
	blob, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	root, err := castore.NewDirectory(castore.Entry{Name: "f", Node: castore.FileNode(blob, 6, false)})
	if err != nil {
		t.Fatal(err)
	}
	p := dirs.NewPutter(ctx)
	if err := p.Put(root); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Close(); err != nil {
		t.Fatal(err)
	}

	set, err := refs.Set(ctx, castore.Tag{Name: "ci/main", Root: root.Node(), Expires: time.Now().Add(time.Hour)}, castore.ExpectAbsent())
	if err != nil {
		t.Fatal(err)
	}
	missing := castore.DirectoryNode(castore.Sum([]byte("never put")), 1)
	if _, err := refs.Set(ctx, castore.Tag{Name: "ci/other", Root: missing}, castore.ExpectAny); !errors.Is(err, castore.ErrIncomplete) || !strings.Contains(err.Error(), missing.Digest.String()) {
		t.Fatalf("Set of a root the server lacks: %v, want ErrIncomplete naming it", err)
	}
	if _, err := refs.Set(ctx, castore.Tag{Name: "ci/main", Root: castore.SymlinkNode("x")}, castore.ExpectAbsent()); !errors.Is(err, castore.ErrConflict) {
		t.Fatalf("Set expecting absence of a present tag: %v, want ErrConflict", err)
	}
	var listed []string
	for tag, err := range refs.List(ctx, "ci/") {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, tag.Name)
	}
	if len(listed) != 1 || listed[0] != "ci/main" {
		t.Fatalf("List = %q", listed)
	}
	srv.stop()
	if _, err := os.Stat(filepath.Join(dataDir, "refs.db")); err != nil {
		t.Fatalf("no DATA_DIR/refs.db: %v", err)
	}

	// Again, read-only: the tag is there; writes are refused.
	srv = startServer(t, getenv, "--read-only")
	conn2, err := grpcapi.Dial(ctx, srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	refs = grpcapi.NewRefClient(conn2)
	got, err := refs.Get(ctx, "ci/main")
	if err != nil || !got.Root.Equal(set.Root) || !got.Updated.Equal(set.Updated) || !got.Expires.Equal(set.Expires) {
		t.Fatalf("after a restart Get = %+v, %v; want %+v", got, err, set)
	}
	if err := refs.Delete(ctx, "ci/main", castore.ExpectAny); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("Delete on a read-only server: %v, want PERMISSION_DENIED", err)
	}
}
