package compose_test

import (
	"bytes"
	"context"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore/compose"
)

// storedBytes writes data through the blob service at addr (a file store
// in dir) and returns the bytes the store then holds.
func storedBytes(t *testing.T, dir, query string, data []byte) int64 {
	t.Helper()
	ctx := context.Background()
	svcs, err := compose.Open(ctx, compose.DefaultRegistry(), compose.Options{BlobServiceAddr: "objectstore+file://" + dir + query, DirectoryServiceAddr: "memory://"})
	if err != nil {
		t.Fatal(err)
	}
	defer svcs.Close()
	w := svcs.Blobs.Create(ctx)
	w.Write(data)
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			n += fi.Size()
		}
		return nil
	})
	return n
}

// The compression option reaches the chunked store: the fastest level
// stores more bytes of the same text than the default, better fewer.
func TestCompressionOption(t *testing.T) {
	words := strings.Fields("func return if else for range struct interface package import type var const map chan go defer select")
	r := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	for b.Len() < 2<<20 {
		b.WriteString(words[r.IntN(len(words))] + " ")
	}
	fastest := storedBytes(t, t.TempDir(), "?compression=fastest", b.Bytes())
	def := storedBytes(t, t.TempDir(), "", b.Bytes())
	better := storedBytes(t, t.TempDir(), "?compression=better", b.Bytes())
	if !(fastest > def && def > better) {
		t.Errorf("stored bytes: fastest %d, default %d, better %d; want them falling", fastest, def, better)
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("blobservices:\n  default:\n    type: objectstore\n    url: memory://\n    compression: hardest\ndirectoryservices:\n  default:\n    type: memory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := compose.Open(context.Background(), compose.DefaultRegistry(), compose.Options{ConfigFile: cfg}); err == nil || !strings.Contains(err.Error(), "hardest") {
		t.Errorf("a config with compression: hardest: %v", err)
	}
}
