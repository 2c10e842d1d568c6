//go:build linux

package fusefront_test

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/fusefront"
	"github.com/castore-go/castore/objectstore/filestore"
)

// randReader yields pseudo-random bytes (which do not compress: zstd keeps
// them raw, so decompression costs a copy).
type randReader struct{ rng *rand.PCG }

func (r randReader) Read(p []byte) (int, error) {
	for i := 0; i+8 <= len(p); i += 8 {
		v := r.rng.Uint64()
		for k := range 8 {
			p[i+k] = byte(v >> (8 * k))
		}
	}
	return len(p) &^ 7, nil
}

// copyOut is io.Copy to nowhere through buf: without it io.Discard's
// ReadFrom would read in 8 KiB pieces, a read(2) each through the mount.
func copyOut(r io.Reader, buf []byte) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, buf)
}

// BenchmarkSequentialRead reads a 1 GiB file through a fresh mount each
// time (so the kernel's page cache is cold) and, side by side, with Open
// and io.Copy on the same BlobService in process (both through a 1 MiB
// buffer): a chunked store on a local directory (the mount's near cache,
// warm). It reports both rates and mount/direct.
//
//	go test -run '^$' -bench SequentialRead -benchtime 3x ./fusefront/
func BenchmarkSequentialRead(b *testing.B) {
	requireFUSE(b)
	const size = 1 << 30
	files, err := filestore.New(b.TempDir(), &filestore.Options{Sync: filestore.SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	blobs, err := chunkstore.NewChunked(files, chunkstore.ChunkedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer blobs.Close()
	ctx := context.Background()
	w := blobs.Create(ctx)
	if _, err := io.CopyN(w, randReader{rand.NewPCG(1, 2)}, size); err != nil {
		b.Fatal(err)
	}
	d, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	root := fusefront.Root{Named: map[castore.PathComponent]castore.Node{"big": castore.FileNode(d, size, false)}}
	s := stores{blobs, dirstore.NewMemory()}

	var direct, mounted time.Duration
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		r, err := blobs.Open(ctx, d)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := copyOut(r, buf); err != nil || n != size {
			b.Fatalf("direct read: %d bytes, %v", n, err)
		}
		r.Close()
		direct += time.Since(start)

		mnt := b.TempDir()
		srv, err := fusefront.Mount(mnt, s.blobs, s.dirs, root, fusefront.Options{})
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		f, err := os.Open(filepath.Join(mnt, "big"))
		if err != nil {
			b.Fatal(err)
		}
		n, err := copyOut(f, buf)
		f.Close()
		mounted += time.Since(start)
		if uerr := srv.Unmount(); uerr != nil {
			b.Fatal(uerr)
		}
		if err != nil || n != size {
			b.Fatalf("read through the mount: %d bytes, %v", n, err)
		}
	}
	mib := float64(size) / (1 << 20) * float64(b.N)
	b.ReportMetric(mib/direct.Seconds(), "direct-MiB/s")
	b.ReportMetric(mib/mounted.Seconds(), "mount-MiB/s")
	b.ReportMetric(direct.Seconds()/mounted.Seconds(), "mount/direct")
}
