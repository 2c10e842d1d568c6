//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/castore-go/castore/internal/testenv"
)

func requireFUSE(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("this test mounts FUSE filesystems and needs /dev/fuse (load the fuse module; in a container, pass --device /dev/fuse --cap-add SYS_ADMIN): %v", err)
	}
}

// server is a `castore serve` running in process that a test can stop.
type server struct {
	addr string
	stop func()
}

func startServer(t testing.TB, getenv func(string) string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	var errb bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errb, getenv: getenv,
		onListen: func(a net.Addr) { addrs <- a }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, env, append([]string{"serve", "--listen", "127.0.0.1:0", "--drain-delay", "0"}, args...))
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("serve exited %d\n%s", code, errb.String())
				}
			case <-time.After(30 * time.Second):
				t.Error("serve did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case a := <-addrs:
		return &server{addr: "grpc+http://" + a.String(), stop: stop}
	case code := <-done:
		t.Fatalf("serve exited %d before listening\n%s", code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not listen within 30s\n%s", errb.String())
	}
	return nil
}

// mounted is a `castore mount` running in process.
type mounted struct {
	mnt    string
	stderr *testenv.SyncBuffer
	done   chan int
	cancel context.CancelFunc
}

// mount runs `castore mount args... mnt` until the test ends or unmount is
// called; the mount must then exit 0 and leave nothing mounted.
func (c *cli) mount(mnt string, args ...string) *mounted {
	c.t.Helper()
	return mountWith(c.t, func(k string) string { return c.env[k] }, mnt, args...)
}

func mountWith(t testing.TB, getenv func(string) string, mnt string, args ...string) *mounted {
	t.Helper()
	requireFUSE(t)
	ctx, cancel := context.WithCancel(context.Background())
	m := &mounted{mnt: mnt, stderr: &testenv.SyncBuffer{}, done: make(chan int, 1), cancel: cancel}
	ready := make(chan string, 1)
	env := &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: m.stderr, getenv: getenv,
		onMount: func(p string) { ready <- p }}
	go func() { m.done <- run(ctx, env, append(append([]string{"mount"}, args...), mnt)) }()
	t.Cleanup(func() { m.unmount(t) })
	select {
	case <-ready:
		return m
	case code := <-m.done:
		m.done <- code
		t.Fatalf("mount exited %d before mounting\n%s", code, m.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("mount did not mount within 60s\n%s", m.stderr)
	}
	return nil
}

// runWith runs one command line in process.
func runWith(getenv func(string) string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: getenv}
	code := run(context.Background(), env, args)
	return code, out.String(), errb.String()
}

// unmount stops the mount as SIGINT/SIGTERM would (they cancel run's
// context) and checks it unmounted cleanly.
func (m *mounted) unmount(t testing.TB) {
	t.Helper()
	m.cancel()
	select {
	case code := <-m.done:
		m.done <- code
		if code != 0 {
			t.Errorf("mount exited %d\n%s", code, m.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("mount did not stop within 30s of its signal\n%s", m.stderr)
		syscall.Unmount(m.mnt, syscall.MNT_DETACH)
	}
	if isMountpoint(m.mnt) {
		t.Errorf("%s is still mounted", m.mnt)
		syscall.Unmount(m.mnt, syscall.MNT_DETACH)
	}
}

func isMountpoint(p string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 4 && f[4] == p {
			return true
		}
	}
	return false
}

func goroot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func randomFile(t testing.TB, path string, size int64, seed uint64) []byte {
	t.Helper()
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i+8 <= len(data); i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			data[i+k] = byte(v >> (8 * k))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMountEndToEnd imports GOROOT and a 100 MiB file into a server,
// mounts them through the CLI, and checks the mount against the originals:
// diff -r, eight concurrent readers of random ranges, a second mount that
// reads everything from the local cache with the server gone, and a clean
// unmount on the signal.
func TestMountEndToEnd(t *testing.T) {
	requireFUSE(t)
	c := newCLI(t)
	srv := startServer(t, func(k string) string { return c.env[k] }, "--data-dir", filepath.Join(t.TempDir(), "server"))
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = srv.addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = srv.addr

	src := goroot(t)
	root := strings.TrimSpace(c.ok("import", src))
	bigDir := filepath.Join(t.TempDir(), "big")
	big := randomFile(t, filepath.Join(bigDir, "big.bin"), 100<<20, 1)
	bigRoot := strings.TrimSpace(c.ok("import", bigDir))

	cache := filepath.Join(t.TempDir(), "cache")
	mnt := t.TempDir()
	m := c.mount(mnt, "--cache-dir", cache, "--root", "go="+root, "--root", "big="+bigRoot, "--list-root", "--xattr")

	if es, err := os.ReadDir(mnt); err != nil || len(es) != 2 || es[0].Name() != "big" || es[1].Name() != "go" {
		t.Fatalf("ls MNT: %v, %v", es, err)
	}
	if out, err := exec.Command("diff", "-r", "--no-dereference", src, filepath.Join(mnt, "go")).CombinedOutput(); err != nil {
		t.Fatalf("diff -r of the mounted GOROOT: %v\n%.4000s", err, out)
	}
	val := make([]byte, 128)
	if n, err := syscall.Getxattr(filepath.Join(mnt, "go"), "user.tvix.castore.directory.digest", val); err != nil || string(val[:n]) != root {
		t.Errorf("xattr of the root: %q, %v", val[:n], err)
	}

	// Eight readers of random ranges, each with its own open file.
	bigPath := filepath.Join(mnt, "big", "big.bin")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			f, err := os.Open(bigPath)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			for range 40 {
				off := rng.Int64N(int64(len(big)))
				buf := make([]byte, rng.Int64N(2<<20))
				n, err := f.ReadAt(buf, off)
				want := big[off:min(off+int64(len(buf)), int64(len(big)))]
				if (err != nil && !errors.Is(err, io.EOF)) || !bytes.Equal(buf[:n], want) {
					t.Errorf("reader %d: ReadAt(%d bytes at %d) = %d, %v; equal %v", g, len(buf), off, n, err, bytes.Equal(buf[:n], want))
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if got, err := os.ReadFile(bigPath); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("whole read of the big file: equal %v, %v", bytes.Equal(got, big), err)
	}
	m.unmount(t)
	if !strings.Contains(m.stderr.String(), "unmounted "+mnt) {
		t.Errorf("mount's stderr does not say it unmounted:\n%s", m.stderr)
	}

	// With the server gone, a new mount on the same cache still reads
	// everything: the second read of a file costs no network.
	srv.stop()
	mnt2 := t.TempDir()
	c.mount(mnt2, "--cache-dir", cache, "--root", "go="+root, "--root", "big="+bigRoot)
	if out, err := exec.Command("diff", "-r", "--no-dereference", src, filepath.Join(mnt2, "go")).CombinedOutput(); err != nil {
		t.Fatalf("diff -r from the cache alone: %v\n%.4000s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(mnt2, "big", "big.bin")); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("big file from the cache alone: equal %v, %v", bytes.Equal(got, big), err)
	}
}

// TestMountDeadMountpoint: a mount point left dead by a crashed server is
// refused with a hint, not mounted over or hung on.
func TestMountDeadMountpoint(t *testing.T) {
	requireFUSE(t)
	mnt := t.TempDir()
	fd, err := syscall.Open("/dev/fuse", syscall.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("fd=%d,rootmode=40000,user_id=0,group_id=0", fd)
	if err := syscall.Mount("castore", mnt, "fuse.castore", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		syscall.Close(fd)
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Errorf("clean up the dead mount: %v", err)
		}
	})
	syscall.Close(fd) // the "server" dies
	if _, err := os.Stat(mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("stat of the dead mount: %v, want ENOTCONN", err)
	}
	c := newCLI(t)
	code, _, errs := c.run(nil, "mount", "--data-dir", t.TempDir(), "--cache-dir", "off", "b3:P5UaFa/VhvsxIe9NE9WC6BHODlp/IcBJf9h0kOniNVo=", mnt)
	if code != 1 || !strings.Contains(errs, "dead FUSE mount") || !strings.Contains(errs, "fusermount -u "+mnt) {
		t.Fatalf("mount on a dead mount point: exit %d: %s", code, errs)
	}
}

func TestMountUsage(t *testing.T) {
	c := newCLI(t)
	root := "b3:P5UaFa/VhvsxIe9NE9WC6BHODlp/IcBJf9h0kOniNVo="
	mnt := t.TempDir()
	for _, args := range [][]string{
		{"mount"},
		{"mount", mnt},
		{"mount", root, mnt, "extra"},
		{"mount", "--root", "a=" + root, root, mnt},
		{"mount", "--root", "a/b=" + root, mnt},
		{"mount", "--root", "noequals", mnt},
		{"mount", "--list-root", root, mnt},
		{"mount", "--threads", "0", root, mnt},
		{"mount", "--cache-size", "lots", root, mnt},
		{"mount", "b3:short", mnt},
		{"mount", "--root", "a=" + root, "--root", "a=" + root, "--data-dir", t.TempDir(), "--cache-dir", "off", mnt},
	} {
		if code, _, errs := c.run(nil, args...); code != 2 {
			t.Errorf("castore %v: exit %d, want 2\n%s", args, code, errs)
		}
	}
	// A missing root is an error naming it, before anything is mounted.
	missing := "b3:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	store := t.TempDir()
	c.ok("import", "--data-dir", store, t.TempDir()) // a store, without that root
	code, _, errs := c.run(nil, "mount", "--data-dir", store, "--cache-dir", "off", missing, mnt)
	if code != 1 || !strings.Contains(errs, missing) || isMountpoint(mnt) {
		t.Errorf("mount of a missing root: exit %d: %s", code, errs)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "512B": 512, "1K": 1024, "1KiB": 1024, "10MiB": 10 << 20, "10GiB": 10 << 30, "2T": 2 << 40} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "-1", "1.5G", "1 GiB", "1PiB", "9999999999999T", "1gib"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
}
