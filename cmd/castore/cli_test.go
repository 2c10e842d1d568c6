package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cli runs castore commands in process with their own environment.
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, env: map[string]string{"XDG_DATA_HOME": t.TempDir()}}
}

// run returns the exit code, stdout and stderr of one command line.
func (c *cli) run(stdin []byte, args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := &environment{stdin: bytes.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return c.env[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := run(ctx, env, args)
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(nil, args...)
	if code != 0 {
		c.t.Fatalf("castore %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// serve starts `castore serve` with args on a free loopback port and
// returns its grpc+http address; it stops when the test ends and must exit
// with code 0.
func (c *cli) serve(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	var errb bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &errb, getenv: func(k string) string { return c.env[k] },
		onListen: func(a net.Addr) { addrs <- a }}
	done := make(chan int, 1)
	// No drain delay: no client here balances over frontends.
	go func() {
		done <- run(ctx, env, append([]string{"serve", "--listen", "127.0.0.1:0", "--drain-delay", "0"}, args...))
	}()
	c.t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				c.t.Errorf("serve exited %d\n%s", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			c.t.Error("serve did not stop within 30s of SIGTERM")
		}
	})
	select {
	case a := <-addrs:
		return "grpc+http://" + a.String()
	case code := <-done:
		c.t.Fatalf("serve exited %d before listening\n%s", code, errb.String())
	case <-time.After(30 * time.Second):
		c.t.Fatalf("serve did not listen within 30s\n%s", errb.String())
	}
	return ""
}

func fixtureTree(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "root")
	for _, err := range []error{
		os.MkdirAll(filepath.Join(dir, "keep"), 0o755),
		os.WriteFile(filepath.Join(dir, ".keep"), nil, 0o644),
		os.WriteFile(filepath.Join(dir, "keep", ".keep"), nil, 0o644),
		os.Symlink("/nix/store/somewhereelse", filepath.Join(dir, "aa")),
		os.WriteFile(filepath.Join(dir, "keep", "tool"), []byte("#!/bin/sh\necho hi\n"), 0o755),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCLIAgainstServer(t *testing.T) {
	c := newCLI(t)
	addr := c.serve("--data-dir", filepath.Join(t.TempDir(), "server"))
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = addr

	// The tvix fixture tree prints tvix's digest.
	fix := filepath.Join(t.TempDir(), "fixture")
	for _, err := range []error{
		os.MkdirAll(filepath.Join(fix, "keep"), 0o755),
		os.WriteFile(filepath.Join(fix, ".keep"), nil, 0o644),
		os.WriteFile(filepath.Join(fix, "keep", ".keep"), nil, 0o644),
		os.Symlink("/nix/store/somewhereelse", filepath.Join(fix, "aa")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if out := c.ok("import", fix); out != "b3:P5UaFa/VhvsxIe9NE9WC6BHODlp/IcBJf9h0kOniNVo=\n" {
		t.Fatalf("import of the fixture printed %q", out)
	}

	dir := fixtureTree(t)
	root := strings.TrimSpace(c.ok("import", dir))
	if js := c.ok("import", "--json", dir); !strings.Contains(js, `"type":"directory"`) || !strings.Contains(js, root) || !strings.Contains(js, `"size":5`) {
		t.Errorf("import --json = %s", js)
	}
	if ls := c.ok("ls", root); ls != ".keep\naa\nkeep\n" {
		t.Errorf("ls = %q", ls)
	}
	if ls := c.ok("ls", "-R", root); !strings.Contains(ls, "keep/tool\n") {
		t.Errorf("ls -R = %q", ls)
	}
	if ls := c.ok("ls", "-l", root+"/keep"); !strings.Contains(ls, "-r-xr-xr-x") || !strings.Contains(ls, " 18 ") {
		t.Errorf("ls -l = %q", ls)
	}
	if cat := c.ok("cat", root+"/keep/tool"); cat != "#!/bin/sh\necho hi\n" {
		t.Errorf("cat = %q", cat)
	}
	if st := c.ok("stat", root); !strings.Contains(st, "entries   3 (1 directories, 1 files, 1 symlinks)") {
		t.Errorf("stat = %q", st)
	}

	out := filepath.Join(t.TempDir(), "out")
	c.ok("export", root, out)
	if b, err := exec.Command("diff", "-r", "--no-dereference", dir, out).CombinedOutput(); err != nil {
		t.Errorf("export differs: %v\n%s", err, b)
	}
	tarb := c.ok("export", "--tar", root)
	if again := strings.TrimSpace(mustRun(t, c, []byte(tarb), "import", "--tar", "-")); again != root {
		t.Errorf("tar round trip %s, want %s", again, root)
	}

	// copy into an embedded store elsewhere, and export from there.
	other := t.TempDir()
	b, d, err := embeddedAddrs(other)
	if err != nil {
		t.Fatal(err)
	}
	c.ok("copy", root, "--to-blob-service-addr", b, "--to-directory-service-addr", d)
	out2 := filepath.Join(t.TempDir(), "out2")
	c2 := newCLI(t)
	c2.ok("export", "--data-dir", other, root, out2)
	if b, err := exec.Command("diff", "-r", "--no-dereference", dir, out2).CombinedOutput(); err != nil {
		t.Errorf("export after copy differs: %v\n%s", err, b)
	}

	// Failures: one line naming what failed, exit 1; bad usage, exit 2.
	missing := "b3:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	code, _, errs := c.run(nil, "ls", missing)
	if code != 1 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, missing) {
		t.Errorf("ls of a missing root: exit %d, %q", code, errs)
	}
	code, _, errs = c.run(nil, "cat", root+"/nope")
	if code != 1 || !strings.Contains(errs, "nope") {
		t.Errorf("cat of a missing path: exit %d, %q", code, errs)
	}
	for _, args := range [][]string{{"ls"}, {"ls", "b3:short"}, {"import"}, {"export", root}, {"frobnicate"}, {"import", "--no-such-flag", dir}} {
		if code, _, _ := c.run(nil, args...); code != 2 {
			t.Errorf("castore %v: exit %d, want 2", args, code)
		}
	}
	if code, _, _ := c.run(nil, "import", "--help"); code != 0 {
		t.Errorf("import --help: exit %d", code)
	}
	if code, _, errs := c.run(nil, "export", root, out); code != 1 || !strings.Contains(errs, "not empty") {
		t.Errorf("export into a non-empty directory: %d %q", code, errs)
	}
}

func mustRun(t *testing.T, c *cli, stdin []byte, args ...string) string {
	t.Helper()
	code, out, errs := c.run(stdin, args...)
	if code != 0 {
		t.Fatalf("castore %v: exit %d: %s", args, code, errs)
	}
	return out
}

func TestServeRefusesNonLoopbackWithoutProtection(t *testing.T) {
	c := newCLI(t)
	code, _, errs := c.run(nil, "serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir())
	if code != 2 || !strings.Contains(errs, "--insecure-listen") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	c.env["CASTORE_LOG_LEVEL"] = "loud"
	code, _, errs = c.run(nil, "serve", "--data-dir", t.TempDir())
	if code != 2 || !strings.Contains(errs, "--log-level") {
		t.Fatalf("bad CASTORE_LOG_LEVEL: exit %d: %s", code, errs)
	}
}
