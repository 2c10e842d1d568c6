package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
)

// FakeGCSServer is a fake-gcs-server started by FakeGCS for one test,
// holding one bucket.
type FakeGCSServer struct {
	// Host is 127.0.0.1:<port>, the value for STORAGE_EMULATOR_HOST.
	Host string
	// Endpoint is http://127.0.0.1:<port>.
	Endpoint string
	// Bucket exists when FakeGCS returns.
	Bucket string

	proc *process
}

// GCSBackend is where fake-gcs-server keeps objects.
type GCSBackend string

const (
	GCSFilesystem GCSBackend = "filesystem" // in a temporary directory; survives Stop and Start
	GCSMemory     GCSBackend = "memory"
)

// FakeGCS starts bin/fake-gcs-server over plain HTTP on a free loopback
// port with the given backend, creates a bucket, and kills the server when
// the test ends. It does not set STORAGE_EMULATOR_HOST; see SetEnv.
func FakeGCS(t testing.TB, backend GCSBackend) *FakeGCSServer {
	t.Helper()
	bin := Tool(t, "fake-gcs-server")
	dir := t.TempDir()
	port := FreePort(t)
	g := &FakeGCSServer{
		Host:     hostPort(port),
		Endpoint: "http://" + hostPort(port),
		Bucket:   RandomName("castore-test-"),
	}
	g.proc = &process{
		t:    t,
		name: "fake-gcs-server",
		bin:  bin,
		args: []string{
			"-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
			"-backend", string(backend), "-filesystem-root", filepath.Join(dir, "data"),
			"-external-url", g.Endpoint, "-public-host", g.Host, "-log-level", "warn",
		},
		logPath: filepath.Join(dir, "fake-gcs-server.log"),
		ready:   httpReady(g.Endpoint + "/storage/v1/b"),
	}
	t.Cleanup(g.proc.stop)
	g.proc.start()
	g.CreateBucket(t.Context(), t, g.Bucket)
	return g
}

// CreateBucket creates a bucket through the JSON API.
func (g *FakeGCSServer) CreateBucket(ctx context.Context, t testing.TB, name string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.Endpoint+"/storage/v1/b?project=test", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		err = errorBody(resp)
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("creating bucket %s on fake-gcs-server: %v", name, err)
	}
}

// Stop kills the server as a crash would and waits for it to exit.
func (g *FakeGCSServer) Stop() { g.proc.stop() }

// Start restarts a stopped server on the same port and data.
func (g *FakeGCSServer) Start() {
	g.proc.t.Helper()
	g.proc.start()
}

// URL returns the objectstore URL of prefix in the bucket.
func (g *FakeGCSServer) URL(prefix string) string {
	return "gs://" + g.Bucket + "/" + prefix
}

// SetEnv points GCS clients at the server for the rest of the test
// (t.Setenv, so not for parallel tests).
func (g *FakeGCSServer) SetEnv(t testing.TB) {
	t.Setenv("STORAGE_EMULATOR_HOST", g.Host)
}
