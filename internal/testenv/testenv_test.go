package testenv_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/castore-go/castore/internal/testenv"
)

func TestRepoRoot(t *testing.T) {
	root := testenv.RepoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.Contains(b, []byte("module github.com/castore-go/castore")) {
		t.Fatalf("RepoRoot = %s, go.mod: %v", root, err)
	}
}

func TestFreePort(t *testing.T) {
	port := testenv.FreePort(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	l.Close()
}

// TestMinIO starts MinIO, writes through the S3 API, survives a restart
// with its data, and refuses connections while stopped.
func TestMinIO(t *testing.T) {
	m := testenv.MinIO(t)
	if !strings.HasPrefix(m.Endpoint, "http://127.0.0.1:") {
		t.Errorf("Endpoint = %s, want loopback", m.Endpoint)
	}
	c := m.Client()
	ctx := t.Context()
	put := func(key string) {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(key), Body: strings.NewReader("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	put("a")
	m.Stop()
	if _, err := http.Get(m.Endpoint + "/minio/health/live"); err == nil {
		t.Error("MinIO still answers after Stop")
	}
	m.Start()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String("a")})
	if err != nil {
		t.Fatalf("object lost across restart: %v", err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != "hello" {
		t.Errorf("object holds %q", body)
	}
	if !strings.Contains(m.URL("pre/fix"), "s3://"+m.Bucket+"/pre/fix?") {
		t.Errorf("URL = %s", m.URL("pre/fix"))
	}
	if strings.Contains(m.URL("x"), m.SecretKey) {
		t.Error("URL contains the secret key")
	}
}

// TestFakeGCS starts fake-gcs-server with both backends and finds its
// bucket through the JSON API.
func TestFakeGCS(t *testing.T) {
	for _, backend := range []testenv.GCSBackend{testenv.GCSMemory, testenv.GCSFilesystem} {
		t.Run(string(backend), func(t *testing.T) {
			g := testenv.FakeGCS(t, backend)
			resp, err := http.Get(g.Endpoint + "/storage/v1/b/" + g.Bucket)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("bucket %s: %s", g.Bucket, resp.Status)
			}
			g.Stop()
			g.Start()
			resp, err = http.Get(g.Endpoint + "/storage/v1/b")
			if err != nil {
				t.Fatalf("after restart: %v", err)
			}
			resp.Body.Close()
		})
	}
}

// TestToolMissing: a missing tool fails the test (never skips) and says
// how to install it. The failing test runs in a child process.
func TestToolMissing(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		testenv.Tool(t, "no-such-tool")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestToolMissing$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child test passed:\n%s", out)
	}
	if !strings.Contains(string(out), "--- FAIL") || strings.Contains(string(out), "--- SKIP") || !strings.Contains(string(out), "make tools") {
		t.Errorf("the child test did not fail with a `make tools` hint:\n%s", out)
	}
}

// TestServerDiesWithTest: a test binary that dies without running its
// cleanups (as on a -timeout panic) takes its servers with it.
func TestServerDiesWithTest(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "orphan" {
		m := testenv.MinIO(t)
		fmt.Printf("PID %d\n", m.PID())
		os.Exit(3) // no cleanups
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithTest$")
	// The child exits without its cleanups: its temporary directories go
	// in one of ours, removed when this test ends.
	cmd.Env = append(os.Environ(), "TESTENV_CHILD=orphan", "TMPDIR="+t.TempDir())
	out, _ := cmd.CombinedOutput()
	var pid int
	i := bytes.Index(out, []byte("PID "))
	if i < 0 {
		t.Fatalf("child printed no PID:\n%s", out)
	}
	if _, err := fmt.Sscanf(string(out[i:]), "PID %d", &pid); err != nil || pid <= 0 {
		t.Fatalf("child printed no PID:\n%s", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("minio (pid %d) outlived its test binary", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBigtableEmulator starts the emulator, creates a table through the
// admin API, and refuses connections while stopped.
func TestBigtableEmulator(t *testing.T) {
	e := testenv.BigtableEmulator(t)
	if !strings.HasPrefix(e.Host, "127.0.0.1:") {
		t.Errorf("Host = %s, want loopback", e.Host)
	}
	e.CreateTable(t.Context(), t, "t1", "cf")
	e.Stop()
	if c, err := net.DialTimeout("tcp", e.Host, 5*time.Second); err == nil {
		c.Close()
		t.Error("the emulator still accepts connections after Stop")
	}
	e.Start()
	e.CreateTable(t.Context(), t, "t1", "cf") // empty again: the table is gone
}

// TestToxiproxyLink proxies an echo server through a link and shows that
// SetRTT adds its round trip, SetBandwidth caps throughput (both measured
// with generous margins: a loaded machine only makes them slower), Cut
// refuses connections and Restore brings them back.
func TestToxiproxyLink(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	tp := testenv.Toxiproxy(t)
	link := tp.Link(t, l.Addr().String())
	if !strings.HasPrefix(link.Addr, "127.0.0.1:") {
		t.Fatalf("link listens on %s, want loopback", link.Addr)
	}
	roundTrip := func(n int) time.Duration {
		t.Helper()
		c, err := net.Dial("tcp", link.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := bytes.Repeat([]byte("x"), n)
		start := time.Now()
		go c.Write(msg)
		got := make([]byte, n)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("echo through %s: %v", link.Addr, err)
		}
		return time.Since(start)
	}
	roundTrip(1) // warm
	link.SetRTT(t, 100*time.Millisecond)
	if d := roundTrip(1); d < 95*time.Millisecond {
		t.Errorf("round trip with SetRTT(100ms) took %v", d)
	}
	link.SetRTT(t, 0)
	link.SetBandwidth(t, 1<<20) // 1 MiB/s each way
	if d := roundTrip(1 << 20); d < 800*time.Millisecond {
		t.Errorf("1 MiB echoed at 1 MiB/s in %v", d)
	}
	link.SetBandwidth(t, 0)
	link.Cut(t)
	if c, err := net.Dial("tcp", link.Addr); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a cut link still carries data")
		}
		c.Close()
	}
	link.Restore(t)
	roundTrip(1)
}
