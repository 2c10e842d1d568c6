package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartTimeout bounds how long a server may take to become ready.
const StartTimeout = 90 * time.Second

// RepoRoot returns the directory holding the module's go.mod, found by
// walking up from the working directory (a package's directory under go
// test).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod in %s or any directory above it", dir)
		}
	}
}

// Tool returns the path of bin/<name> in the repository, failing the test
// if it is not there.
func Tool(t testing.TB, name string) string {
	t.Helper()
	root := RepoRoot(t)
	p := filepath.Join(root, "bin", name)
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s is missing: run `make tools` in %s to install the pinned test servers", p, root)
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RandomName returns prefix followed by 12 random lowercase hex digits, a
// valid bucket name for S3 and GCS when prefix is.
func RandomName(prefix string) string {
	return prefix + randomHex(6)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// process is a server binary that can be stopped and started again on the
// same port and data.
type process struct {
	t       testing.TB
	name    string
	bin     string
	args    []string
	env     []string
	logPath string
	ready   func(ctx context.Context) error

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// start runs the server and waits until ready reports success, failing
// the test if the process exits first or StartTimeout passes.
func (p *process) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		p.t.Fatalf("%s is already running", p.name)
	}
	logf, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("starting %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done

	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	var lastErr error
	for {
		if lastErr = p.ready(ctx); lastErr == nil {
			return
		}
		select {
		case <-done:
			p.cmd = nil
			p.t.Fatalf("%s exited while starting (%v):\n%s", p.name, cmd.ProcessState, p.logTail())
		case <-ctx.Done():
			p.stopLocked()
			p.t.Fatalf("%s not ready after %v: %v\n%s", p.name, StartTimeout, lastErr, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pid returns the running server's process id, or 0.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop kills the server (SIGKILL, like a crash) and waits for it to exit.
func (p *process) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
}

func (p *process) stopLocked() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// logTail returns the end of the server's log, for failure messages.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// httpReady returns a readiness check that GETs url and wants 200.
func httpReady(url string) func(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// errorBody turns a non-2xx response into an error that includes its body.
func errorBody(resp *http.Response) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var sb strings.Builder
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	sb.Write(buf[:n])
	return errors.New(resp.Status + ": " + sb.String())
}

// AllocTest skips a test that counts allocations under the race detector,
// where sync.Pool drops what is put back at random; `make allocs` (part of
// `make test`) runs such tests without it.
func AllocTest(t testing.TB) {
	t.Helper()
	if Race {
		t.Skip("counts allocations: run without -race (make allocs, part of make test, does)")
	}
}
