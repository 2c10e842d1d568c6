package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
)

// bigTree stores, in the embedded stores of dataDir, a directory holding
// one 1 GiB blob under two names, disk.img and disk (which has no
// extension: its type is sniffed). The blob is 4096 chunks of 256 KiB,
// 4095 times one random chunk and then another, put as chunks and an
// index (castore.PutCompressedChunk, castore.PutIndex): a gibibyte is
// hashed but none is written or read, which keeps the test quick under
// -race. It returns the root and the blob's last chunk.
func bigTree(t *testing.T, dataDir string) (castore.Digest, []byte) {
	t.Helper()
	ctx := context.Background()
	sf := &storeFlags{dataDir: dataDir}
	opts, err := sf.clientOptions()
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := compose.Open(ctx, compose.DefaultRegistry(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer svcs.Close()
	const chunkSize, chunks = 256 << 10, 4096
	a, z := make([]byte, chunkSize), make([]byte, chunkSize)
	for i := range a {
		a[i], z[i] = byte(i*7+i/251), byte(i*13+i/241+1)
	}
	copy(a, "the repeated chunk")
	copy(z, "the last chunk")
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	da, dz := castore.Sum(a), castore.Sum(z)
	for _, c := range [][]byte{a, z} {
		if err := castore.PutCompressedChunk(ctx, svcs.Blobs, castore.Sum(c), enc.EncodeAll(c, nil)); err != nil {
			t.Fatal(err)
		}
	}
	h := blake3.New()
	index := make([]castore.ChunkMeta, chunks)
	for i := range index {
		c, d := a, da
		if i == chunks-1 {
			c, d = z, dz
		}
		h.Write(c)
		index[i] = castore.ChunkMeta{Digest: d, Size: chunkSize}
	}
	big := castore.Digest(h.Sum(nil))
	if err := castore.PutIndex(ctx, svcs.Blobs, big, index); err != nil {
		t.Fatal(err)
	}
	dir, err := castore.NewDirectory(
		castore.Entry{Name: "disk.img", Node: castore.FileNode(big, chunks*chunkSize, false)},
		castore.Entry{Name: "disk", Node: castore.FileNode(big, chunks*chunkSize, false)},
	)
	if err != nil {
		t.Fatal(err)
	}
	root, err := svcs.Directories.Put(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	return root, z
}

// sumMetric adds up the samples whose line starts with prefix and holds
// every label.
func sumMetric(text, prefix string, labels ...string) float64 {
	var sum float64
	for line := range strings.Lines(text) {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if fields := strings.Fields(line); ok && len(fields) > 1 {
			v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
			sum += v
		}
	}
	return sum
}

// curl against a running serve: a Range request for the last byte of a
// 1 GiB file is answered with the index and the one chunk holding it
// (counted at the object store), not the gibibyte before it. A file
// whose type is sniffed costs its first chunk and a second index read
// besides.
func TestServeHTTPCurlRange(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not installed: apt-get install curl (.ci/run installs it when missing)")
	}
	c := newCLI(t)
	dataDir := filepath.Join(t.TempDir(), "server")
	root, last := bigTree(t, dataDir)
	web, metrics := freeAddr(t), freeAddr(t)
	c.serve("--data-dir", dataDir, "--http-listen", web, "--metrics-listen", metrics)
	out := filepath.Join(t.TempDir(), "out")
	fetch := func(name, rng string) (status string, got []byte, gets, bytesRead float64) {
		before := scrape(t, metrics)
		cmd := exec.Command(curl, "-sS", "-r", rng, "-o", out, "-w", "%{http_code} %{content_type}", "http://"+web+"/b3/"+root.Hex()+"/"+name)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		o, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl -r %s %s: %v\n%s", rng, name, err, errb.String())
		}
		after := scrape(t, metrics)
		got, err = os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		gets = sumMetric(after, "castore_objectstore_calls_total{", `op="get"`) - sumMetric(before, "castore_objectstore_calls_total{", `op="get"`)
		bytesRead = sumMetric(after, "castore_objectstore_bytes_total{", `op="get"`) - sumMetric(before, "castore_objectstore_bytes_total{", `op="get"`)
		return string(o), got, gets, bytesRead
	}
	waitHTTP(t, http.DefaultClient, "http://"+web+"/")
	for _, c := range []struct {
		name, rng string
		want      []byte
		maxGets   float64
		ctype     string
	}{
		{"disk.img", "-1", last[len(last)-1:], 2, "application/octet-stream"},
		{"disk.img", fmt.Sprintf("%d-%d", 1<<30-3, 1<<30-1), last[len(last)-3:], 2, "application/octet-stream"},
		{"disk", "-1", last[len(last)-1:], 4, "application/octet-stream"},
	} {
		status, got, gets, bytesRead := fetch(c.name, c.rng)
		if status != "206 "+c.ctype {
			t.Errorf("curl -r %s %s: %q, want 206 %s", c.rng, c.name, status, c.ctype)
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("curl -r %s %s: %q, want %q", c.rng, c.name, got, c.want)
		}
		if gets < 1 || gets > c.maxGets || bytesRead > 2<<20 {
			t.Errorf("curl -r %s %s: %.0f object store gets of %.0f bytes, want 1 to %.0f of at most 2 MiB (the file is 1 GiB)", c.rng, c.name, gets, bytesRead, c.maxGets)
		}
		t.Logf("curl -r %s %s: %s, %.0f object store gets, %.0f bytes read", c.rng, c.name, status, gets, bytesRead)
	}
}
