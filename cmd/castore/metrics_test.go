package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore/internal/testenv"
)

// `serve --metrics-listen` exports RPC metrics, object store calls, and
// chunk writes split into uploaded and deduplicated.
func TestServeMetrics(t *testing.T) {
	c := newCLI(t)
	metrics := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	addr := c.serve("--data-dir", filepath.Join(t.TempDir(), "server"), "--metrics-listen", metrics)
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = addr
	dir := fixtureTree(t)
	c.ok("import", dir)
	c.ok("import", dir) // the same chunks again: deduplicated

	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	has := func(prefix, label string) bool {
		for line := range strings.Lines(text) {
			if strings.HasPrefix(line, prefix) && strings.Contains(line, label) {
				return true
			}
		}
		return false
	}
	for _, want := range [][2]string{
		{"castore_chunk_writes_total{", `outcome="uploaded"`},
		{"castore_chunk_writes_total{", `outcome="deduplicated"`},
		{"castore_objectstore_calls_total{", `op="put_if_absent"`},
		{"rpc_server_call_duration_seconds_count{", `rpc_method="tvix.castore.v1.BlobService/Put"`},
		{"rpc_server_call_duration_seconds_count{", `rpc_method="tvix.castore.v1.DirectoryService/Put"`},
	} {
		if !has(want[0], want[1]) {
			t.Errorf("/metrics has no %s with %s", want[0], want[1])
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}
