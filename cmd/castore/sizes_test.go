//go:build linux

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
)

// Issue 19, case 3: a file node whose size disagrees with its blob is an
// error naming the path and both sizes in every reader (cat, export,
// export --tar before the entry's header, copy, the mount with EIO and a
// log line), never bytes cut short or run on.
func TestFileNodeSizeMismatch(t *testing.T) {
	c := newCLI(t)
	dataDir := t.TempDir()
	sf := &storeFlags{dataDir: dataDir}
	opts, err := sf.clientOptions()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svcs, err := compose.Open(ctx, compose.DefaultRegistry(), opts)
	if err != nil {
		t.Fatal(err)
	}
	w := svcs.Blobs.Create(ctx)
	w.Write([]byte("hello!"))
	d, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	// A store nobody checked: the embedded directories take what they
	// are given.
	dir, err := castore.NewDirectory(
		castore.Entry{Name: "a-short", Node: castore.FileNode(d, 3, false)},
		castore.Entry{Name: "b-long", Node: castore.FileNode(d, 10, false)},
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Directories.Put(ctx, dir); err != nil {
		t.Fatal(err)
	}
	svcs.Close()
	root := dir.Digest().String()

	for name, size := range map[string]string{"a-short": "3", "b-long": "10"} {
		code, out, errs := c.run(nil, "cat", "--data-dir", dataDir, root+"/"+name)
		if code == 0 || out != "" || !strings.Contains(errs, name) || !strings.Contains(errs, "6 bytes") || !strings.Contains(errs, size) {
			t.Errorf("cat %s: exit %d, %d bytes out, stderr %q; want an error naming it and sizes 6 and %s", name, code, len(out), errs, size)
		}
	}
	code, _, errs := c.run(nil, "export", "--data-dir", dataDir, root, filepath.Join(t.TempDir(), "out"))
	if code == 0 || !(strings.Contains(errs, "a-short") || strings.Contains(errs, "b-long")) || !strings.Contains(errs, "6 bytes") {
		t.Errorf("export: exit %d, %q; want an error naming a file and its sizes", code, errs)
	}
	code, out, errs := c.run(nil, "export", "--data-dir", dataDir, "--tar", root)
	if code == 0 || !strings.Contains(errs, "a-short") || strings.Contains(out, "a-short") {
		t.Errorf("export --tar: exit %d, %q; want an error naming a-short and no header of it in the %d bytes out", code, errs, len(out))
	}

	other := t.TempDir()
	code, _, errs = c.run(nil, "copy", "--data-dir", dataDir, root, "--to-blob-service-addr", "memory://", "--to-directory-service-addr", "bolt://"+filepath.Join(other, "dirs.db"))
	if code == 0 || !strings.Contains(errs, "a-short (blob ") || !strings.Contains(errs, "6 bytes") || !strings.Contains(errs, "says 3") {
		t.Errorf("copy: exit %d, %q; want an error naming a-short and both sizes", code, errs)
	}

	requireFUSE(t)
	mnt := t.TempDir()
	m := c.mount(mnt, "--data-dir", dataDir, "--cache-dir", "off", root)
	for _, name := range []string{"a-short", "b-long"} {
		if b, err := os.ReadFile(filepath.Join(mnt, name)); !errors.Is(err, syscall.EIO) {
			t.Errorf("read %s in the mount: %q, %v; want EIO", name, b, err)
		}
	}
	m.unmount(t)
	for _, name := range []string{"a-short", "b-long"} {
		if !strings.Contains(m.stderr.String(), "path="+name) || !strings.Contains(m.stderr.String(), "has 6 bytes") {
			t.Errorf("the mount's log does not name %s and the sizes:\n%s", name, m.stderr)
		}
	}
}
