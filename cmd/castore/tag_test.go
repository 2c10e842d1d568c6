package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
)

// Tags end to end on the embedded stores: import --tag, tag get/ls/set/rm
// with their conditions, tag:NAME in ls, cat, export and copy (which
// brings the tag along), expiry, and the closure check on set.
func TestTagCommands(t *testing.T) {
	c := newCLI(t)
	data := filepath.Join(t.TempDir(), "data")
	tree := fixtureTree(t)
	dd := []string{"--data-dir", data}
	args := func(a ...string) []string { return append(a, dd...) }

	root := strings.TrimSpace(c.ok(args("import", "--tag", "ci/repo/main", "--ttl", "30d", tree)...))
	if got := strings.TrimSpace(c.ok(args("tag", "get", "ci/repo/main")...)); got != root {
		t.Fatalf("tag get: %q, want %q", got, root)
	}
	var j tagJSON
	if err := json.Unmarshal([]byte(c.ok(args("tag", "get", "--json", "ci/repo/main")...)), &j); err != nil {
		t.Fatal(err)
	}
	exp, err := time.Parse(time.RFC3339, j.Expires)
	if err != nil || j.Root.Digest != root || j.Root.Type != "directory" || exp.Before(time.Now().Add(29*24*time.Hour)) || exp.After(time.Now().Add(31*24*time.Hour)) || j.Expired {
		t.Fatalf("tag get --json: %+v (%v)", j, err)
	}

	// tag:NAME wherever a ROOT goes.
	if out := c.ok(args("ls", "tag:ci/repo/main")...); !strings.Contains(out, "keep") {
		t.Errorf("ls tag: %q", out)
	}
	if out := c.ok(args("ls", "tag:ci/repo/main:keep")...); !strings.Contains(out, "tool") {
		t.Errorf("ls tag::keep: %q", out)
	}
	if out := c.ok(args("cat", "tag:ci/repo/main:keep/tool")...); out != "#!/bin/sh\necho hi\n" {
		t.Errorf("cat tag:…:keep/tool: %q", out)
	}
	out := filepath.Join(t.TempDir(), "out")
	c.ok(args("export", "tag:ci/repo/main", out)...)
	if b, err := os.ReadFile(filepath.Join(out, "keep", "tool")); err != nil || string(b) != "#!/bin/sh\necho hi\n" {
		t.Errorf("export tag:: %q %v", b, err)
	}

	// A file below a tree can be tagged; a tag can be set from another.
	c.ok(args("tag", "set", "ci/repo/tool", "tag:ci/repo/main:keep/tool")...)
	if out := c.ok(args("cat", "tag:ci/repo/tool")...); out != "#!/bin/sh\necho hi\n" {
		t.Errorf("cat of a tag naming a file: %q", out)
	}
	if out := c.ok(args("ls", "-l", "tag:ci/repo/tool")...); !strings.Contains(out, "tool") {
		t.Errorf("ls of a tag naming a file: %q", out)
	}

	// Conditions: a compare-and-swap on the root.
	other := filepath.Join(t.TempDir(), "other")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "f"), []byte("other tree"), 0o644)
	root2 := strings.TrimSpace(c.ok(args("import", other)...))
	for _, a := range [][]string{
		{"tag", "set", "--if-absent", "ci/repo/main", root2},
		{"tag", "set", "--if-root", root2, "ci/repo/main", root2},
		{"tag", "set", "--if-root", root2, "ci/repo/none", root2},
		{"tag", "rm", "--if-root", root2, "ci/repo/main"},
	} {
		code, _, errs := c.run(nil, args(a...)...)
		if code != 1 || !strings.Contains(errs, "changed concurrently") {
			t.Errorf("castore %s: exit %d, %q; want a conflict", strings.Join(a, " "), code, errs)
		}
	}
	c.ok(args("tag", "set", "--if-root", root, "ci/repo/main", root2)...)
	c.ok(args("tag", "set", "--if-absent", "ci/repo/pr-1", root)...)
	ls := c.ok(args("tag", "ls", "ci/repo/")...)
	lines := strings.Split(strings.TrimSpace(ls), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ci/repo/main") || !strings.Contains(lines[0], root2) || !strings.HasPrefix(lines[1], "ci/repo/pr-1") || !strings.Contains(lines[1], "never") {
		t.Errorf("tag ls ci/repo/:\n%s", ls)
	}
	if out := strings.TrimSpace(c.ok(args("tag", "ls", "ci/repo/p")...)); !strings.HasPrefix(out, "ci/repo/pr-1") || strings.Contains(out, "\n") {
		t.Errorf("tag ls ci/repo/p: %q, want ci/repo/pr-1 alone", out)
	}

	// Expiry: an expired tag is listed as such and not read.
	c.ok(args("tag", "set", "--ttl", "1s", "ci/repo/short", root)...)
	time.Sleep(1100 * time.Millisecond)
	if code, _, errs := c.run(nil, args("ls", "tag:ci/repo/short")...); code != 1 || !strings.Contains(errs, "expired") {
		t.Errorf("ls of an expired tag: exit %d, %q", code, errs)
	}
	if ls := c.ok(args("tag", "ls")...); !strings.Contains(ls, "expired") {
		t.Errorf("tag ls does not mark the expired tag:\n%s", ls)
	}

	// copy tag:NAME brings the tag along, expiry and all.
	target := t.TempDir()
	c.ok(args("copy", "tag:ci/repo/pr-1", "--to-blob-service-addr", "objectstore+file://"+filepath.Join(target, "blobs"), "--to-directory-service-addr", "bolt://"+filepath.Join(target, "dirs.db"))...)
	if got := strings.TrimSpace(c.ok("tag", "get", "--directory-service-addr", "bolt://"+filepath.Join(target, "dirs.db"), "--blob-service-addr", "objectstore+file://"+filepath.Join(target, "blobs"), "ci/repo/pr-1")); got != root {
		t.Errorf("the copied tag: %q, want %q", got, root)
	}

	// rm, then the tag is gone.
	c.ok(args("tag", "rm", "ci/repo/pr-1")...)
	if code, _, errs := c.run(nil, args("ls", "tag:ci/repo/pr-1")...); code != 1 || !strings.Contains(errs, "no such tag") {
		t.Errorf("ls of a removed tag: exit %d, %q", code, errs)
	}
	if code, _, errs := c.run(nil, args("tag", "rm", "ci/repo/pr-1")...); code != 1 || !strings.Contains(errs, "no such tag") {
		t.Errorf("rm of a missing tag: exit %d, %q", code, errs)
	}

	// Bad names and forms are usage errors, before anything is opened.
	for _, a := range [][]string{
		{"tag", "set", "../x", root}, {"tag", "set", "a:b", root}, {"tag", "get", "/x"}, {"tag", "ls", "a//"},
		{"ls", "tag:"}, {"ls", "tag:a b"}, {"cat", "tag:x:a/../b"}, {"tag", "set", "x", root, "--ttl", "0s"},
		{"tag", "set", "--if-absent", "--if-root", root, "x", root}, {"import", "--ttl", "1h", tree}, {"tag"}, {"tag", "frob"},
	} {
		if code, _, errs := c.run(nil, args(a...)...); code != 2 {
			t.Errorf("castore %s: exit %d, want 2: %s", strings.Join(a, " "), code, errs)
		}
	}

	// A root whose closure is not whole cannot be tagged.
	sf := &storeFlags{dataDir: data}
	opts, err := sf.clientOptions()
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := compose.Open(context.Background(), compose.DefaultRegistry(), opts)
	if err != nil {
		t.Fatal(err)
	}
	broken, _ := castore.NewDirectory(castore.Entry{Name: "gone", Node: castore.FileNode(castore.Sum([]byte("never stored")), 12, false)})
	if _, err := svcs.Directories.Put(context.Background(), broken); err != nil {
		t.Fatal(err)
	}
	svcs.Close()
	if code, _, errs := c.run(nil, args("tag", "set", "ci/broken", broken.Digest().String())...); code != 1 || !strings.Contains(errs, "incomplete") {
		t.Errorf("tag set of a root without its blob: exit %d, %q", code, errs)
	}
}

// Through a server: import --tag, ls tag:, the HTTP gateway's /tags/, and
// a mount of tag:NAME.
func TestTagsThroughServer(t *testing.T) {
	c := newCLI(t)
	web := freeAddr(t)
	addr := c.serve("--data-dir", filepath.Join(t.TempDir(), "server"), "--http-listen", web)
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = addr
	root := strings.TrimSpace(c.ok("import", "--tag", "ci/repo/main", fixtureTree(t)))
	if got := strings.TrimSpace(c.ok("tag", "get", "ci/repo/main")); got != root {
		t.Fatalf("tag get through the server: %q", got)
	}
	if out := c.ok("ls", "tag:ci/repo/main:keep"); !strings.Contains(out, "tool") {
		t.Errorf("ls tag: through the server: %q", out)
	}
	waitHTTP(t, http.DefaultClient, "http://"+web+"/")
	if resp, b := get(t, http.DefaultClient, "http://"+web+"/tags/ci/repo/main:/keep/tool"); resp.StatusCode != 200 || b != "#!/bin/sh\necho hi\n" {
		t.Errorf("GET /tags/…: %d %q", resp.StatusCode, b)
	}
	requireFUSE(t)
	mnt := t.TempDir()
	m := c.mount(mnt, "--cache-dir", "off", "tag:ci/repo/main")
	if b, err := os.ReadFile(filepath.Join(mnt, "keep", "tool")); err != nil || string(b) != "#!/bin/sh\necho hi\n" {
		t.Errorf("read through a mount of tag:: %q %v", b, err)
	}
	m.unmount(t)
}
