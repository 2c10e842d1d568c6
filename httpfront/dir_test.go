package httpfront_test

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/httpfront"
)

// A directory's URL ends in a slash and a file's does not: the other
// spelling is a permanent redirect, keeping the query.
func TestTrailingSlash(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	for from, to := range map[string]string{
		f.url("")[:len(f.url(""))-1]: f.url(""),
		f.url("lib"):                 f.url("lib/"),
		f.url("docs/deep/er"):        f.url("docs/deep/er/"),
		f.url("README.md/"):          f.url("README.md"),
		f.url("lib?sort=size"):       f.url("lib/?sort=size"),
	} {
		resp := f.do(t, "GET", from)
		wantStatus(t, resp, 301)
		wantHeader(t, resp, "Location", to)
		wantHeader(t, resp, "Cache-Control", immutable)
	}
}

// Symlinks inside the tree redirect to where they lead (through any
// number of them, in any component); those that leave it are shown, not
// followed; a loop ends.
func TestSymlinks(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	for from, to := range map[string]string{
		"lib/libfoo.so":               "lib/libfoo.so.1",
		"lib/up":                      "README.md",
		"lib/dot":                     "lib/",
		"lib/dot/":                    "lib/",
		"lib/dot/dot/libfoo.so":       "lib/libfoo.so.1",
		"link-to-lib":                 "lib/",
		"link-to-lib/":                "lib/",
		"link-to-lib/libfoo.so.1":     "lib/libfoo.so.1",
		"link-to-lib/up?download":     "README.md?download",
		"docs/up":                     "",
		"docs/up/docs/up/link-to-lib": "lib/",
	} {
		resp := f.do(t, "GET", f.url(from))
		wantStatus(t, resp, 302)
		wantHeader(t, resp, "Location", f.url(to))
	}
	for _, p := range []string{"lib/out", "lib/escape", "link-to-lib/out", "lib/out/x"} {
		resp := f.do(t, "GET", f.url(p))
		wantStatus(t, resp, 404)
		b := body(t, resp)
		if !strings.Contains(b, "outside this tree") || !strings.Contains(b, "etc/passwd") {
			t.Errorf("%s: the page does not show the target and that it is outside: %q", p, b)
		}
	}
	resp := f.do(t, "GET", f.url("lib/loop"))
	wantStatus(t, resp, 404)
	if b := body(t, resp); !strings.Contains(b, "symlinks") {
		t.Errorf("a loop: %q", b)
	}
	// A dangling symlink leads to a 404 once followed.
	resp = f.do(t, "GET", f.url("lib/missing"))
	wantStatus(t, resp, 404)
	wantStatus(t, f.do(t, "GET", f.url("nothing")), 404)
	wantStatus(t, f.do(t, "GET", f.url("README.md/x")), 404)
}

// The HTML listing: every entry with its size, kind, mode, target and
// digest, breadcrumbs, sort links, a filter, and a strict CSP.
func TestListingHTML(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	resp := f.do(t, "GET", f.url("lib/"))
	wantStatus(t, resp, 200)
	wantHeader(t, resp, "Content-Type", "text/html; charset=utf-8")
	wantHeader(t, resp, "Cache-Control", immutable)
	wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows scripts or unsafe sources", csp)
	}
	page := html.UnescapeString(body(t, resp))
	so := castore.Sum(f.files["lib/libfoo.so.1"])
	for _, want := range []string{
		`<a href="./libfoo.so.1" title="` + so.String() + `">libfoo.so.1</a>`,
		`<td class="size" title="16 bytes">16 B</td>`,
		`<a href="./libfoo.so" title="symlink to libfoo.so.1">libfoo.so</a>`,
		`→ libfoo.so.1`,
		`<span class="outside" title="symlink to /etc/passwd, outside this tree: not followed">out</span>`,
		`→ /etc/passwd (outside this tree)`,
		`→ ../../etc/passwd (outside this tree)`,
		`<a href="./up" title="symlink to ../README.md">up</a>`,
		`lrwxrwxrwx`, `-r--r--r--`,
		`<a href="../">../</a>`,
		`<a href="` + f.url("lib/") + `">lib</a>`, // breadcrumb
		`title="` + f.root.String() + `"`,
		`?format=tar`, `?format=tar.zst`, `name="q"`,
		`<a href="?sort=size">Size</a>`,
		`<a href="?order=desc">Name</a> ↑`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the listing of lib/ lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", page)
	}
	root := body(t, f.do(t, "GET", f.url("")))
	for _, want := range []string{
		`<a href="./bin/" title="`, `<a href="./` + url.PathEscape("weird name?#%.txt") + `"`,
		`weird name?#%.txt</a>`, `>ünïcödé.txt</a>`, `3.0 MiB`, `directory`,
		"3 directories, 8 files (4.0 MiB), 1 symlink",
	} {
		if !strings.Contains(root, want) {
			t.Errorf("the root listing lacks %s", want)
		}
	}
	if bin := body(t, f.do(t, "GET", f.url("bin/"))); !strings.Contains(bin, `-r-xr-xr-x`) || !strings.Contains(bin, `class="file exec"`) {
		t.Errorf("bin/tool is not shown executable")
	}
	if strings.Contains(root, `href="../"`) {
		t.Errorf("the root listing links to a parent")
	}
}

var rowName = regexp.MustCompile(`<td class="name">(?:<a [^>]*>|<span [^>]*>)([^<]*)<`)

func listedNames(page string) []string {
	var names []string
	for _, m := range rowName.FindAllStringSubmatch(page, -1) {
		if m[1] != "../" {
			names = append(names, m[1])
		}
	}
	return names
}

// ?sort= and ?order= order the rows; ?q= filters them.
func TestListingSortAndFilter(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	names := func(q string) []string {
		resp := f.do(t, "GET", f.url("")+q)
		wantStatus(t, resp, 200)
		return listedNames(body(t, resp))
	}
	byName := names("")
	if !slices.IsSorted(byName) || len(byName) != 12 {
		t.Errorf("by name: %q", byName)
	}
	desc := names("?order=desc")
	if slices.Reverse(desc); !slices.Equal(desc, byName) {
		t.Errorf("by name, descending: %q", desc)
	}
	bySize := names("?sort=size&order=desc")
	// Descending: symlinks, files by size, largest first, directories.
	if bySize[0] != "link-to-lib" || bySize[1] != bigFile || bySize[len(bySize)-1] != "bin/" && !strings.HasSuffix(bySize[len(bySize)-1], "/") {
		t.Errorf("by size, descending: %q", bySize)
	}
	if i, j := slices.Index(bySize, bigFile), slices.Index(bySize, dataFile); i < 0 || j < 0 || i > j {
		t.Errorf("by size, descending: %s is not before %s: %q", bigFile, dataFile, bySize)
	}
	byKind := names("?sort=kind")
	if byKind[0] != "bin/" || byKind[len(byKind)-1] != "link-to-lib" {
		t.Errorf("by kind: %q", byKind)
	}
	filtered := names("?q=TXT")
	if !slices.Equal(filtered, []string{"weird name?#%.txt", "ünïcödé.txt"}) {
		t.Errorf("?q=TXT: %q", filtered)
	}
	// The sort links keep the filter.
	page := body(t, f.do(t, "GET", f.url("")+"?q=txt"))
	if !strings.Contains(page, `href="?q=txt&amp;sort=size"`) || !strings.Contains(page, "2 of 12 entries match") {
		t.Errorf("a filtered page's sort links or summary:\n%s", page)
	}
}

// The listing as JSON, by Accept or ?format=json.
func TestListingJSON(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	type entry struct {
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Digest     *castore.Digest `json:"digest"`
		Size       *uint64         `json:"size"`
		Executable bool            `json:"executable"`
		Target     string          `json:"target"`
	}
	var want []entry
	n, err := castoreDescend(f, "lib")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := f.dirs.Get(context.Background(), n.Digest)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range dir.Entries() {
		je := entry{Name: string(e.Name), Type: e.Node.Type.String(), Executable: e.Node.Executable, Target: e.Node.Target}
		if e.Node.Type != castore.NodeSymlink {
			d, s := e.Node.Digest, e.Node.Size
			je.Digest, je.Size = &d, &s
		}
		want = append(want, je)
	}
	for _, c := range []struct{ query, accept string }{
		{"", "application/json"},
		{"", "text/html;q=0.5, application/json"},
		{"?format=json", "text/html"},
	} {
		resp := f.do(t, "GET", f.url("lib/")+c.query, "Accept", c.accept)
		wantStatus(t, resp, 200)
		wantHeader(t, resp, "Content-Type", "application/json")
		if !strings.Contains(resp.Header.Get("Vary"), "Accept") {
			t.Errorf("Vary %q lacks Accept", resp.Header.Get("Vary"))
		}
		var got struct {
			Digest  castore.Digest `json:"digest"`
			Path    string         `json:"path"`
			Entries []entry        `json:"entries"`
		}
		if err := json.Unmarshal([]byte(body(t, resp)), &got); err != nil {
			t.Fatal(err)
		}
		if got.Digest != n.Digest || got.Path != "lib" {
			t.Errorf("digest %s path %q, want %s lib", got.Digest, got.Path, n.Digest)
		}
		if len(got.Entries) != len(want) {
			t.Fatalf("%d entries, want %d", len(got.Entries), len(want))
		}
		for i := range want {
			g, w := got.Entries[i], want[i]
			if g.Name != w.Name || g.Type != w.Type || g.Target != w.Target || g.Executable != w.Executable ||
				(g.Digest == nil) != (w.Digest == nil) || g.Digest != nil && *g.Digest != *w.Digest || g.Size != nil && *g.Size != *w.Size {
				t.Errorf("entry %d: %+v, want %+v", i, g, w)
			}
		}
	}
	// A browser's Accept is HTML.
	resp := f.do(t, "GET", f.url("lib/"), "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	wantHeader(t, resp, "Content-Type", "text/html; charset=utf-8")
	// Errors too come as JSON to a client that asks for it.
	resp = f.do(t, "GET", f.url("nothing"), "Accept", "application/json")
	wantStatus(t, resp, 404)
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(body(t, resp)), &e); err != nil || !strings.Contains(e.Error, "nothing") {
		t.Errorf("a JSON error: %q (%v)", e.Error, err)
	}
}

func castoreDescend(f *fixture, p string) (castore.Node, error) {
	dir, err := f.dirs.Get(context.Background(), f.root)
	if err != nil {
		return castore.Node{}, err
	}
	n := dir.Node()
	for c := range strings.SplitSeq(p, "/") {
		dir, err := f.dirs.Get(context.Background(), n.Digest)
		if err != nil {
			return castore.Node{}, err
		}
		n, _ = dir.Lookup(castore.PathComponent(c))
	}
	return n, nil
}

// Listings are conditional too: their ETag is the directory's digest
// and the representation.
func TestListingNotModified(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	html := f.do(t, "GET", f.url("lib/"))
	js := f.do(t, "GET", f.url("lib/"), "Accept", "application/json")
	he, je := html.Header.Get("ETag"), js.Header.Get("ETag")
	if he == "" || je == "" || he == je {
		t.Fatalf("ETags %q and %q: want two different ones", he, je)
	}
	wantStatus(t, f.do(t, "GET", f.url("lib/"), "If-None-Match", he), 304)
	wantStatus(t, f.do(t, "GET", f.url("lib/"), "If-None-Match", je, "Accept", "application/json"), 304)
	wantStatus(t, f.do(t, "GET", f.url("lib/"), "If-None-Match", je), 200)
}

// --index-names serves a directory's index file instead of its listing;
// without --auto-index a directory with none is 403, as in snix.
func TestIndexNames(t *testing.T) {
	f := newFixture(t, httpfront.Options{IndexNames: []string{"index.htm", "index.html"}})
	resp := f.do(t, "GET", f.url("docs/"))
	wantStatus(t, resp, 200)
	wantHeader(t, resp, "Content-Type", "text/html; charset=utf-8")
	if got := body(t, resp); got != fixtureFiles["docs/index.html"] {
		t.Errorf("docs/: %q, want its index.html", got)
	}
	if got := body(t, f.do(t, "GET", f.url(""))); got != fixtureFiles["index.html"] {
		t.Errorf("/: %q, want its index.html", got)
	}
	for _, p := range []string{"lib/", "lib/?format=tar", "lib/?format=json"} {
		wantStatus(t, f.do(t, "GET", f.url(p)), 403)
	}
	wantStatus(t, f.do(t, "GET", f.url("lib/"), "Accept", "application/json"), 403)
	// Files are served all the same.
	wantStatus(t, f.do(t, "GET", f.url("lib/libfoo.so.1")), 200)

	// With --auto-index, the others are listed.
	f = newFixture(t, httpfront.Options{IndexNames: []string{"index.html"}, AutoIndex: true})
	if got := body(t, f.do(t, "GET", f.url("docs/"))); got != fixtureFiles["docs/index.html"] {
		t.Errorf("docs/ with --auto-index: %q, want its index.html", got)
	}
	if page := body(t, f.do(t, "GET", f.url("lib/"))); !strings.Contains(page, "libfoo.so.1") {
		t.Errorf("lib/ with --auto-index is not listed")
	}
	// A directory called like an index is passed over.
	f = newFixture(t, httpfront.Options{IndexNames: []string{"deep", "page.txt"}})
	if got := body(t, f.do(t, "GET", f.url("docs/"))); got != fixtureFiles["docs/page.txt"] {
		t.Errorf("docs/ with index names deep, page.txt: %q", got)
	}
}

// An index file served for a directory varies by Accept too: the same URL
// is the listing as JSON.
func TestIndexVary(t *testing.T) {
	f := newFixture(t, httpfront.Options{IndexNames: []string{"index.html"}, AutoIndex: true})
	resp := f.do(t, "GET", f.url("docs/"))
	wantStatus(t, resp, 200)
	wantHeader(t, resp, "Vary", "Accept")
	resp = f.do(t, "GET", f.url("docs/"), "Accept", "application/json")
	wantHeader(t, resp, "Content-Type", "application/json")
	wantHeader(t, resp, "Vary", "Accept")
}
