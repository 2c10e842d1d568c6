//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/castore-go/castore/internal/testenv"
)

// `castore mount` in a child process unmounts cleanly and exits 0 on a
// real SIGTERM, and on SIGINT.
func TestMountSignals(t *testing.T) {
	requireFUSE(t)
	dataDir := t.TempDir()
	code, out, errs := runWith(func(string) string { return "" }, "import", "--data-dir", dataDir, fixtureTree(t))
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	root := strings.TrimSpace(out)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			mnt := t.TempDir()
			cmd := castoreCommand("mount", "--data-dir", dataDir, "--cache-dir", "off", root, mnt)
			stderr := &testenv.SyncBuffer{}
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
				if isMountpoint(mnt) {
					syscall.Unmount(mnt, syscall.MNT_DETACH)
				}
			})
			for deadline := time.Now().Add(60 * time.Second); !strings.Contains(stderr.String(), "mounted at"); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("mount did not mount within 60s:\n%s", stderr)
				}
			}
			got, err := os.ReadFile(filepath.Join(mnt, "keep", "tool"))
			if err != nil || string(got) != "#!/bin/sh\necho hi\n" {
				t.Fatalf("reading through the mount: %q, %v", got, err)
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				exited <- err
				if err != nil {
					t.Fatalf("mount exited with %v after %v:\n%s", err, sig, stderr)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("mount still running 30s after %v:\n%s", sig, stderr)
			}
			if !strings.Contains(stderr.String(), "unmounted "+mnt) {
				t.Errorf("mount did not say it unmounted:\n%s", stderr)
			}
			if isMountpoint(mnt) {
				t.Errorf("%s is still mounted after %v", mnt, sig)
			}
		})
	}
}
