package main

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/castore-go/castore/internal/testenv"
)

// serveWithMetrics serves the embedded default with metrics, and returns
// a CLI whose commands talk to it and the metrics address.
func serveWithMetrics(t *testing.T) (*cli, string) {
	c := newCLI(t)
	metrics := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	addr := c.serve("--data-dir", filepath.Join(t.TempDir(), "server"), "--metrics-listen", metrics)
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = addr
	return c, metrics
}

// `serve --metrics-listen` exports RPC metrics, object store calls, and
// chunk writes split into uploaded and deduplicated.
func TestServeMetrics(t *testing.T) {
	c, metrics := serveWithMetrics(t)
	// A file of the same 1 MiB twice, cut here into chunks (the client
	// sends the second half's once FastCDC finds its way back to the
	// same cuts, and names the blob as its chunks on a PutChunkList
	// stream); imported again without asking first, the small file's
	// chunk comes again and is deduplicated.
	dir := fixtureTree(t)
	half := randomFile(t, filepath.Join(t.TempDir(), "half"), 1<<20, 5)
	if err := os.WriteFile(filepath.Join(dir, "twice"), append(half, half...), 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("import", dir)
	c.ok("import", "--skip-known=false", dir)

	text := scrape(t, metrics)
	for _, want := range [][2]string{
		{"castore_chunk_writes_total{", `outcome="uploaded"`},
		{"castore_chunk_writes_total{", `outcome="deduplicated"`},
		{"castore_objectstore_calls_total{", `op="put_if_absent"`},
		{"rpc_server_call_duration_seconds_count{", `rpc_method="castore.v1.ChunkService/PutCompressed"`},
		{"rpc_server_call_duration_seconds_count{", `rpc_method="castore.v1.ChunkService/PutChunkList"`},
		{"rpc_server_call_duration_seconds_count{", `rpc_method="tvix.castore.v1.DirectoryService/Put"`},
	} {
		if !hasMetric(text, want[0], want[1]) {
			t.Errorf("/metrics has no %s with %s", want[0], want[1])
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

// With near/far caches configured, /metrics counts their hits.
func TestServeMetricsNearCaches(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "castore.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
blobservices:
  near: {type: memory}
  far: {type: objectstore, url: "file://%[1]s/far"}
  default: {type: combined, near: near, far: far}
directoryservices:
  near: {type: memory}
  far: {type: objectstore, url: "file://%[1]s/far"}
  default: {type: cache, near: near, far: far}
`, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	metrics := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	addr := c.serve("--config", cfg, "--metrics-listen", metrics)
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = addr
	root := strings.TrimSpace(c.ok("import", fixtureTree(t)))
	if got := c.ok("cat", root+"/keep/tool"); got != "#!/bin/sh\necho hi\n" {
		t.Fatalf("cat = %q", got)
	}
	text := scrape(t, metrics)
	for _, want := range [][2]string{
		{"castore_near_cache_blob_reads_total{", `result="hit"`},
		{"castore_near_cache_directory_reads_total{", `result="hit"`},
	} {
		if !hasMetric(text, want[0], want[1]) {
			t.Errorf("/metrics has no %s with %s", want[0], want[1])
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

func scrape(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func hasMetric(text, prefix, label string) bool {
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, label) {
			return true
		}
	}
	return false
}

// metricValue is the value of the first sample whose line starts with
// prefix and contains label, or 0.
func metricValue(t *testing.T, text, prefix, label string) float64 {
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, label) {
			fields := strings.Fields(line)
			v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// Importing into a server sends only files it lacks (--skip-known is on
// for a gRPC blob service): a second import of a tree makes no blob Put;
// with --skip-known=false it sends again every file of one chunk (they go
// without asking; a file of several would be asked about chunk by chunk).
// The root is the same every time.
func TestImportSkipsKnownThroughServe(t *testing.T) {
	c, metrics := serveWithMetrics(t)
	dir := fixtureTree(t)
	randomFile(t, filepath.Join(dir, "data"), 300<<10, 9)
	// Blobs go up whole (BlobService.Put) or, to a server that takes
	// chunks, cut here (ChunkService.PutCompressed, or many small ones in
	// a PutCompressedBatch): what counts is the chunks the server was
	// given to store, new or not.
	puts := func() float64 {
		text := scrape(t, metrics)
		return metricValue(t, text, "castore_chunk_writes_total{", `outcome="uploaded"`) +
			metricValue(t, text, "castore_chunk_writes_total{", `outcome="deduplicated"`)
	}
	root := c.ok("import", dir)
	first := puts()
	if first == 0 {
		t.Fatal("the first import put no chunk")
	}
	if again := c.ok("import", dir); again != root || puts() != first {
		t.Fatalf("second import: root %q (first %q), %v chunks put in all (%v after the first)", again, root, puts(), first)
	}
	files := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files++
		}
		return err
	})
	// Without asking first, each file that is not empty is sent again
	// (each is one chunk; the empty ones need nothing).
	if again := c.ok("import", "--skip-known=false", dir); again != root || puts() != first+2 {
		t.Fatalf("import with --skip-known=false: root %q, %v chunks put in all, want %v (one more for keep/tool and data, of the %d files)", again, puts(), first+2, files)
	}
}
