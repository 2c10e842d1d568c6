package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/internal/testenv"
)

// TestMain lets a test run this test binary as the castore command in a
// child process, to send it real signals.
func TestMain(m *testing.M) {
	if os.Getenv("CASTORE_TEST_RUN_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// castoreCommand is the castore command with args, as a child process
// (this test binary, made castore by TestMain), without the CASTORE_*
// variables of the test's environment.
func castoreCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(cleanEnv(), "CASTORE_TEST_RUN_MAIN=1")
	return cmd
}

// serveChild is `castore serve` in a child process.
type serveChild struct {
	cmd    *exec.Cmd
	addr   string
	stderr *testenv.SyncBuffer
	exited chan error
}

// startServeChild starts `castore serve --data-dir dir args...` on a free
// loopback port and waits until it is ready. It is killed when the test
// ends if it is still running.
func startServeChild(t testing.TB, dir string, args ...string) *serveChild {
	t.Helper()
	return startServeChildAt(t, fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), dir, args...)
}

// startServeChildAt is startServeChild listening on listen (host:port).
func startServeChildAt(t testing.TB, listen, dir string, args ...string) *serveChild {
	t.Helper()
	cmd := castoreCommand(append([]string{"serve", "--data-dir", dir, "--listen", listen}, args...)...)
	s := &serveChild{cmd: cmd, addr: "grpc+http://" + listen, stderr: &testenv.SyncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.exited
	})
	s.waitLog(t, "msg=ready", 30*time.Second)
	return s
}

// waitLog waits until the server's log holds want.
func (s *serveChild) waitLog(t testing.TB, want string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); !strings.Contains(s.stderr.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log %q within %v:\n%s", want, d, s.stderr.String())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (s *serveChild) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case err := <-s.exited:
		s.exited <- err // for the cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		t.Fatalf("serve still running %v after SIGTERM:\n%s", d, s.stderr.String())
		return -1
	}
}

// On SIGTERM, `castore serve` stops taking connections, lets a blob Put
// in flight finish and store its blob, and exits 0; a Put that does not
// finish within the grace period is cut off, stores nothing, and serve
// still exits 0.
func TestServeSIGTERM(t *testing.T) {
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	want := castore.Sum(data)

	t.Run("in-flight put finishes", func(t *testing.T) {
		dir := t.TempDir()
		s := startServeChild(t, dir, "--grace-period", "30s")
		ctx := t.Context()
		w := putThenSIGTERM(t, s, data[:2<<20])
		s.waitLog(t, "shutting down", 10*time.Second)

		// No new connections once it is shutting down.
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if late, err := grpcapi.Dial(dctx, s.addr+"?wait-connect=1"); err == nil {
			late.Close()
			t.Error("a new connection succeeded after SIGTERM")
		}
		cancel()

		if _, err := w.Write(data[2<<20:]); err != nil {
			t.Fatalf("finishing the put after SIGTERM: %v", err)
		}
		d, err := w.Close()
		if err != nil || d != want {
			t.Fatalf("put in flight at SIGTERM = %v, %v; want %v", d, err, want)
		}
		if code := s.wait(t, 20*time.Second); code != 0 {
			t.Fatalf("serve exited %d after SIGTERM:\n%s", code, s.stderr.String())
		}

		// The blob is stored for good: a new server on the same data has it.
		if !hasAfterRestart(t, dir, want) {
			t.Fatalf("after a restart, blob %s is missing", want)
		}
	})

	t.Run("grace period bounds a stalled put", func(t *testing.T) {
		dir := t.TempDir()
		s := startServeChild(t, dir, "--grace-period", "1s")
		w := putThenSIGTERM(t, s, data[:2<<20])
		if code := s.wait(t, 20*time.Second); code != 0 {
			t.Fatalf("serve exited %d after SIGTERM:\n%s", code, s.stderr.String())
		}
		if !strings.Contains(s.stderr.String(), "grace period over") {
			t.Errorf("serve did not say it cut calls off:\n%s", s.stderr.String())
		}
		w.Write(data[2<<20:])
		if d, err := w.Close(); err == nil {
			t.Fatalf("a put cut off by shutdown reported success (%v)", d)
		}

		if hasAfterRestart(t, dir, want) {
			t.Fatal("a put cut off by shutdown left its blob")
		}
	})
}

// putThenSIGTERM starts a blob Put to s, sends it first (a write of at
// least one message), then sends s SIGTERM, and returns the Put's writer.
func putThenSIGTERM(t *testing.T, s *serveChild, first []byte) castore.BlobWriter {
	t.Helper()
	conn, err := grpcapi.Dial(t.Context(), s.addr+"?wait-connect=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w := grpcapi.NewBlobClient(conn).Create(t.Context())
	if _, err := w.Write(first); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return w
}

// hasAfterRestart serves dir again and asks whether blob d is there.
func hasAfterRestart(t *testing.T, dir string, d castore.Digest) bool {
	t.Helper()
	s := startServeChild(t, dir)
	conn, err := grpcapi.Dial(t.Context(), s.addr+"?wait-connect=1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ok, err := grpcapi.NewBlobClient(conn).Has(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
