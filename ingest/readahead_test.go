package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// batching is a blob store that reads small blobs in batches, as a gRPC
// client of a castore server does, counting its calls.
type batching struct {
	castore.BlobService
	batches, batched, opens atomic.Int64
}

func (b *batching) Open(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	if d != castore.EmptyDigest {
		b.opens.Add(1)
	}
	return b.BlobService.Open(ctx, d)
}

func (b *batching) ReadBlobs(ctx context.Context, blobs []castore.ChunkMeta, fn func(castore.ChunkMeta, []byte) error) error {
	b.batches.Add(1)
	for _, m := range blobs {
		b.batched.Add(1)
		r, err := b.BlobService.Open(ctx, m.Digest)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return err
		}
		if err := fn(m, data); err != nil {
			return err
		}
	}
	return nil
}

// batchTree is a tree of 700 small files (some alike, some empty), a few
// large ones and symlinks.
func batchTree(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "tree")
	for i := range 700 {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%7), fmt.Sprintf("f%03d", i))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		body := fmt.Appendf(nil, "file %d\n", i%650) // 50 alike
		if i%100 == 3 {
			body = nil
		}
		must(t, os.WriteFile(p, body, 0o644))
	}
	for i := range 3 {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("large%d", i)), bytes.Repeat([]byte{byte(i + 1)}, 2<<20+i), 0o755))
	}
	must(t, os.Symlink("d0/f000", filepath.Join(dir, "link")))
	return dir
}

// Export (to a directory and as tar) and copy read the small files ahead
// in batches from a store that can batch, and the large ones with Open;
// what they write is the tree exactly. A blob missing from a batch fails
// the export with an error naming the file.
func TestExportAndCopyReadSmallFilesInBatches(t *testing.T) {
	ctx := t.Context()
	src := batchTree(t)
	mem, dirs := stores(t)
	n, err := ingest.ImportPath(ctx, mem, dirs, src, ingest.Options{})
	must(t, err)
	blobs := &batching{BlobService: mem}
	check := func(what string, wantBatches int64) {
		t.Helper()
		b, o := blobs.batches.Swap(0), blobs.opens.Swap(0)
		blobs.batched.Store(0)
		// 3 large files are opened one by one; 700 small ones come in
		// groups of at most 256.
		if b != wantBatches || o != 3 {
			t.Errorf("%s: %d batches and %d opens, want %d batches and 3 opens", what, b, o, wantBatches)
		}
	}

	out := filepath.Join(t.TempDir(), "out")
	must(t, ingest.ExportDir(ctx, blobs, dirs, n, out, ingest.ExportOptions{}))
	sameTree(t, src, out)
	check("export", 3)

	var tb bytes.Buffer
	must(t, ingest.ExportTar(ctx, blobs, dirs, n, &tb, ingest.ExportOptions{}))
	check("export --tar", 3)
	back, err := ingest.ImportTar(ctx, mem, dirs, &tb, ingest.Options{})
	must(t, err)
	if back.Digest != n.Digest {
		t.Fatalf("tar round trip: %s, want %s", back.Digest, n.Digest)
	}

	toBlobs, toDirs := chunkstore.NewMemory(), dirstore.NewMemory()
	var st ingest.CopyStats
	must(t, ingest.Copy(ctx, blobs, dirs, toBlobs, toDirs, n, ingest.Options{}, &st))
	check("copy", 3)
	out2 := filepath.Join(t.TempDir(), "out2")
	must(t, ingest.ExportDir(ctx, toBlobs, toDirs, n, out2, ingest.ExportOptions{}))
	sameTree(t, src, out2)

	// A store that lost one small blob: the batch fails, the files are
	// read one by one, and the missing one's error names it.
	lost := &batching{BlobService: &losing{BlobService: mem, lost: castore.Sum([]byte("file 5\n"))}}
	err = ingest.ExportDir(ctx, lost, dirs, n, filepath.Join(t.TempDir(), "out3"), ingest.ExportOptions{})
	if err == nil || !(strings.Contains(err.Error(), "f005") || strings.Contains(err.Error(), "f655")) {
		t.Fatalf("export with a lost blob: %v, want an error naming f005 or f655 (both hold it)", err)
	}
}

// losing is a store that has lost one blob.
type losing struct {
	castore.BlobService
	lost castore.Digest
}

func (l *losing) Open(ctx context.Context, d castore.Digest) (castore.BlobReader, error) {
	if d == l.lost {
		return nil, fmt.Errorf("blob %s: %w", d, castore.ErrNotFound)
	}
	return l.BlobService.Open(ctx, d)
}
