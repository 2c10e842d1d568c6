//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore/internal/testenv"
)

// manySmallFiles makes dirs directories (some nested) of perDir small
// files each.
func manySmallFiles(t *testing.T, dirs, perDir int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "tree")
	for i := range dirs {
		d := filepath.Join(root, fmt.Sprintf("d%02d", i))
		if i%3 == 2 {
			d = filepath.Join(root, fmt.Sprintf("d%02d", i-1), fmt.Sprintf("sub%02d", i))
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range perDir {
			body := bytes.Repeat(fmt.Appendf(nil, "file %d of dir %d\n", j, i), 1+j%40)
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%03d.txt", j)), body, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// sameTree compares two trees' regular files byte for byte.
func sameTree(t *testing.T, want, got string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("%s differs through the mount: %v", rel, err)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A cold read of a tree of many small files through a mount over a link
// with a 10 ms round trip costs a bounded number of calls per directory,
// not per file: the directories come in one recursive Get, and the files'
// contents in prefetch batches, counted at the server. Every byte read is
// the original's.
func TestMountColdReadRoundTripsPerDirectory(t *testing.T) {
	requireFUSE(t)
	const dirs, perDir = 12, 60
	c, metrics := serveWithMetrics(t)
	src := manySmallFiles(t, dirs, perDir)
	root := strings.TrimSpace(c.ok("import", src))

	link := testenv.Toxiproxy(t).Link(t, c.env["CASTORE_BLOB_SERVICE_ADDR"][len("grpc+http://"):])
	link.SetRTT(t, 10*time.Millisecond)
	remote := "grpc+http://" + link.Addr
	env := map[string]string{"CASTORE_BLOB_SERVICE_ADDR": remote, "CASTORE_DIRECTORY_SERVICE_ADDR": remote}
	count := func(method string) float64 {
		return metricValue(t, scrape(t, metrics), "rpc_server_call_duration_seconds_count{", `rpc_method="`+method+`"`)
	}
	methods := []string{
		"tvix.castore.v1.BlobService/Stat", "tvix.castore.v1.BlobService/Read",
		"castore.v1.ChunkService/ReadCompressed", "castore.v1.ChunkService/ReadCompressedBatch",
		"tvix.castore.v1.DirectoryService/Get",
	}
	before := map[string]float64{}
	for _, m := range methods {
		before[m] = count(m)
	}

	m := mountWith(t, func(k string) string { return env[k] }, t.TempDir(), "--cache-dir", filepath.Join(t.TempDir(), "cache"), root)
	start := time.Now()
	if out, err := exec.Command("sh", "-c", "tar -cf - -C '"+m.mnt+"' . | cat > /dev/null").CombinedOutput(); err != nil {
		t.Fatalf("tar through the mount: %v\n%s", err, out)
	}
	took := time.Since(start)
	files := sameTree(t, src, m.mnt)
	m.unmount(t)

	calls := map[string]float64{}
	var blobCalls float64
	for _, meth := range methods {
		calls[meth] = count(meth) - before[meth]
		if meth != "tvix.castore.v1.DirectoryService/Get" {
			blobCalls += calls[meth]
		}
	}
	t.Logf("cold tar of %d files in %d directories over a 10 ms link: %v; server calls %v", files, dirs+1, took.Round(time.Millisecond), calls)
	if files != dirs*perDir {
		t.Fatalf("compared %d files, want %d", files, dirs*perDir)
	}
	if g := calls["tvix.castore.v1.DirectoryService/Get"]; g != 1 {
		t.Errorf("%v directory Gets, want 1 (the closure, recursively)", g)
	}
	// A read that comes before its directory's batch costs its own two
	// calls, so allow a few per directory; one per file would be 720+.
	if limit := float64(4 * (dirs + 1)); blobCalls > limit {
		t.Errorf("%v blob calls for %d files in %d directories, want at most %v", blobCalls, files, dirs+1, limit)
	}
	if !bytes.Contains([]byte(m.stderr.String()), []byte("msg=prefetch")) {
		t.Errorf("the mount did not log what it prefetched:\n%s", m.stderr)
	}
}
