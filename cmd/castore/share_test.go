package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore/grpcapi"
)

// castore share prints links that a gateway with tokens and the same key
// lets through: a file's for that file, a directory's for what is below
// it (its listing's relative links work through the cookie), nothing else.
func TestShareLinksThroughGateway(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	addr := c.serve("--data-dir", filepath.Join(dir, "server"))
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = addr
	root := strings.TrimSpace(c.ok("import", fixtureTree(t)))

	tokens, key := filepath.Join(dir, "tokens"), filepath.Join(dir, "share.key")
	os.WriteFile(tokens, []byte(grpcapi.HashToken("r3ad")+" read\n"), 0o600)
	os.WriteFile(key, []byte("c2hhcmUga2V5IGZvciB0aGUgdGVzdHMgb2YgY2FzdG9yZQ==\n"), 0o600)
	web := c.gateway("--auth-tokens", tokens, "--share-key-file", key)
	base := "http://" + web

	tool := strings.TrimSpace(c.ok("share", "--key-file", key, "--url", base, "--ttl", "10m", root+"/keep/tool"))
	if !strings.HasPrefix(tool, base+"/b3/") {
		t.Fatalf("share printed %q", tool)
	}
	if resp, b := get(t, http.DefaultClient, tool); resp.StatusCode != 200 || b != "#!/bin/sh\necho hi\n" {
		t.Fatalf("GET the file's link: %d %q", resp.StatusCode, b)
	}
	if resp, _ := get(t, http.DefaultClient, strings.Split(tool, "?")[0]); resp.StatusCode != 401 {
		t.Errorf("GET the file without the link's token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, http.DefaultClient, strings.Replace(tool, "/keep/tool?", "/keep/.keep?", 1)); resp.StatusCode != 401 {
		t.Errorf("the file's token on another file: %d, want 401", resp.StatusCode)
	}

	keep := strings.TrimSpace(c.ok("share", "--key-file", key, "--url", base+"/", root+"/keep/"))
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if resp, b := get(t, browser, keep); resp.StatusCode != 200 || !strings.Contains(b, "tool") {
		t.Fatalf("GET the directory's link: %d %.200q", resp.StatusCode, b)
	}
	// The links name the root in hex, whatever form it was given in.
	u, _ := url.Parse(keep)
	tree := base + strings.TrimSuffix(u.Path, "keep/")
	if resp, _ := get(t, browser, tree+"keep/tool"); resp.StatusCode != 200 {
		t.Errorf("a file below the shared directory, by the cookie: %d, want 200", resp.StatusCode)
	}
	if resp, _ := get(t, browser, tree); resp.StatusCode != 401 {
		t.Errorf("the parent of the shared directory: %d, want 401", resp.StatusCode)
	}

	// A tag's link follows the tag.
	c.ok("tag", "set", "ci/shared", root)
	tagged := strings.TrimSpace(c.ok("share", "--key-file", key, "--url", base, "tag:ci/shared:keep/tool"))
	if !strings.HasPrefix(tagged, base+"/tags/ci/shared:/keep/tool?share=") {
		t.Fatalf("share tag: printed %q", tagged)
	}
	if resp, b := get(t, http.DefaultClient, tagged); resp.StatusCode != 200 || b != "#!/bin/sh\necho hi\n" {
		t.Errorf("GET the tag's link: %d %q", resp.StatusCode, b)
	}
	if resp, _ := get(t, http.DefaultClient, strings.Replace(tagged, "/keep/tool?", "/keep/.keep?", 1)); resp.StatusCode != 401 {
		t.Errorf("the tag link's token on another file: %d, want 401", resp.StatusCode)
	}

	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, []byte("another key, another key, another key"), 0o600)
	forged := strings.TrimSpace(c.ok("share", "--key-file", other, "--url", base, root+"/keep/tool"))
	if resp, b := get(t, http.DefaultClient, forged); resp.StatusCode != 401 || !strings.Contains(b, "signature") {
		t.Errorf("a link signed with another key: %d %.100q", resp.StatusCode, b)
	}

	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("short"), 0o600)
	for _, args := range [][]string{
		{"share", root},
		{"share", "--key-file", key},
		{"share", "--key-file", key, "--ttl", "400d", root},
		{"share", "--key-file", key, "--ttl", "-1h", root},
		{"share", "--key-file", key, "--url", "ftp://x", root},
		{"share", "--key-file", key, "not-a-digest/x"},
	} {
		if code, _, errs := c.run(nil, args...); code != 2 {
			t.Errorf("castore %s: exit %d, want 2: %s", strings.Join(args, " "), code, errs)
		}
	}
	if code, _, errs := c.run(nil, "share", "--key-file", short, root); code != 1 || !strings.Contains(errs, "32") {
		t.Errorf("a short key: exit %d: %s", code, errs)
	}
	if code, _, errs := c.run(nil, "http", "--share-key-file", short); code == 0 || !strings.Contains(errs, "32") {
		t.Errorf("castore http with a short share key: exit %d: %s", code, errs)
	}
}
