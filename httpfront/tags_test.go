package httpfront_test

import (
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/httpfront"
	"github.com/castore-go/castore/refstore"
)

// /tags/NAME:/path serves the tree a tag names, resolved per request, not
// cacheable as immutable; ?resolve redirects to the /b3/ URL; missing,
// expired and bad names are refused with what is wrong.
func TestTags(t *testing.T) {
	refs := refstore.NewMemory()
	f := newFixture(t, httpfront.Options{AutoIndex: true, Refs: refs})
	ctx := t.Context()
	set := func(name string, root castore.Node, expires time.Time) {
		t.Helper()
		if _, err := refs.Set(ctx, castore.Tag{Name: name, Root: root, Expires: expires}, castore.ExpectAny); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := f.dirs.Get(ctx, f.root)
	if err != nil {
		t.Fatal(err)
	}
	set("ci/repo/main", castore.DirectoryNode(f.root, dir.Size()), time.Time{})
	readme := f.files["README.md"]
	set("ci/repo/readme", castore.FileNode(castore.Sum(readme), uint64(len(readme)), false), time.Time{})
	set("ci/repo/old", castore.DirectoryNode(f.root, dir.Size()), time.Now().Add(-time.Minute))

	resp := f.do(t, "GET", "/tags/ci/repo/main:/docs/page.txt")
	wantStatus(t, resp, 200)
	if b := body(t, resp); b != fixtureFiles["docs/page.txt"] {
		t.Errorf("file through the tag: %q", b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control under /tags/: %q, want no-cache", cc)
	}
	if et := resp.Header.Get("ETag"); !strings.Contains(et, castore.Sum([]byte(fixtureFiles["docs/page.txt"])).String()) {
		t.Errorf("ETag %q", et)
	}
	wantStatus(t, f.do(t, "GET", "/tags/ci/repo/main:docs/page.txt"), 200)
	resp = f.do(t, "GET", "/tags/ci/repo/main:/docs/")
	wantStatus(t, resp, 200)
	if b := body(t, resp); !strings.Contains(b, "page.txt") {
		t.Errorf("listing through the tag lacks page.txt")
	}
	for target, loc := range map[string]string{
		"/tags/ci/repo/main":                        "/tags/ci/repo/main:/",
		"/tags/ci/repo/main/":                       "/tags/ci/repo/main:/",
		"/tags/ci/repo/main:/docs":                  "/tags/ci/repo/main:/docs/",
		"/tags/ci/repo/main:/docs/page.txt?resolve": "/b3/" + f.root.Hex() + "/docs/page.txt",
		"/tags/ci/repo/main:/?resolve&format=json":  "/b3/" + f.root.Hex() + "/?format=json",
		"/tags/ci/repo/readme?resolve":              "/blobs/" + castore.Sum(readme).Hex(),
	} {
		resp := f.do(t, "GET", target)
		if resp.StatusCode < 300 || resp.StatusCode > 399 || resp.Header.Get("Location") != loc {
			t.Errorf("%s: %d to %q, want a redirect to %q", target, resp.StatusCode, resp.Header.Get("Location"), loc)
		}
	}
	resp = f.do(t, "GET", "/tags/ci/repo/readme")
	wantStatus(t, resp, 200)
	if b := body(t, resp); b != string(readme) {
		t.Errorf("a tag naming a file: %q", b)
	}

	// The tag moves: the next request sees the new root.
	other, err := castore.NewDirectory(castore.Entry{Name: "only", Node: castore.FileNode(castore.Sum(readme), uint64(len(readme)), false)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.dirs.Put(ctx, other); err != nil {
		t.Fatal(err)
	}
	set("ci/repo/main", castore.DirectoryNode(other.Digest(), other.Size()), time.Time{})
	wantStatus(t, f.do(t, "GET", "/tags/ci/repo/main:/docs/page.txt"), 404)
	wantStatus(t, f.do(t, "GET", "/tags/ci/repo/main:/only"), 200)

	for target, want := range map[string]struct {
		code int
		msg  string
	}{
		"/tags/ci/repo/none:/":                     {404, "no tag"},
		"/tags/ci/repo/old:/":                      {404, "expired"},
		"/tags/ci/../x:/":                          {400, "segment"},
		"/tags/ci/repo/main:/../x":                 {400, ""},
		"/tags/ci/repo/main:/a//b":                 {400, ""},
		"/tags/ci/repo/readme:/x":                  {404, "names a file"},
		"/tags/ci%20x:/":                           {400, "character"},
		"/tags/" + strings.Repeat("a", 600) + ":/": {400, "longer"},
	} {
		resp := f.do(t, "GET", target)
		wantStatus(t, resp, want.code)
		wantHeader(t, resp, "Cache-Control", "no-store")
		if b := body(t, resp); !strings.Contains(b, want.msg) {
			t.Errorf("%s: body %.300q, want it to say %q", target, b, want.msg)
		}
	}

	// Without Refs, /tags/ is not implemented.
	g := newFixture(t, httpfront.Options{AutoIndex: true})
	wantStatus(t, g.do(t, "GET", "/tags/ci/repo/main:/"), 501)
}
