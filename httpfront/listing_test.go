package httpfront_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/httpfront"
)

// bigDirectory stores a directory of n entries (files, executables,
// symlinks, subdirectories) and returns its digest.
func bigDirectory(t testing.TB, n int) (castore.DirectoryService, castore.Digest) {
	t.Helper()
	dirs := dirstore.NewMemory()
	ctx := context.Background()
	empty, err := dirs.Put(ctx, &castore.Directory{})
	if err != nil {
		t.Fatal(err)
	}
	entries := make([]castore.Entry, n)
	for i := range entries {
		name := castore.PathComponent(fmt.Sprintf("entry-%06d.o", i))
		var node castore.Node
		switch i % 4 {
		case 0, 1:
			node = castore.FileNode(castore.Sum([]byte(name)), uint64(i*37), i%4 == 1)
		case 2:
			node = castore.SymlinkNode("../lib/" + string(name))
		case 3:
			node = castore.DirectoryNode(empty, 0)
		}
		entries[i] = castore.Entry{Name: name, Node: node}
	}
	dir, err := castore.NewDirectory(entries...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dirs.Put(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	return dirs, d
}

// countingWriter is a ResponseWriter that keeps no body: it counts the
// writes that reach it and their largest.
type countingWriter struct {
	hdr           http.Header
	writes, bytes int
	largest       int
}

func (c *countingWriter) Header() http.Header { return c.hdr }
func (c *countingWriter) WriteHeader(int)     {}
func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	c.bytes += len(p)
	c.largest = max(c.largest, len(p))
	return len(p), nil
}

// A listing of 20,000 entries is rendered as it is written (in pieces of
// at most 64 KiB, never held whole), with a bounded number of
// allocations and bytes per entry, sorted or not: counted, not timed.
func TestBigListing(t *testing.T) {
	const n = 20000
	dirs, root := bigDirectory(t, n)
	_, blobs, _ := newStores(t)
	h := httpfront.New(blobs, dirs, httpfront.Options{AutoIndex: true})
	for _, query := range []string{"", "?sort=size&order=desc", "?sort=kind", "?q=entry-01"} {
		target := "/b3/" + root.Hex() + "/" + query
		serve := func() *countingWriter {
			w := &countingWriter{hdr: http.Header{}}
			h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
			return w
		}
		w := serve() // and fills the directory cache
		if w.largest > 64<<10 || w.writes < w.bytes/(64<<10) {
			t.Errorf("%s: %d writes of at most %d bytes for %d bytes: want it streamed in pieces of at most 64 KiB", query, w.writes, w.largest, w.bytes)
		}
		rows := n
		if strings.HasPrefix(query, "?q=") {
			rows = 10000
		}
		perRow := float64(w.bytes) / float64(rows)
		if perRow > 600 {
			t.Errorf("%s: %.0f bytes per row: a page of %d MB is not one a browser shows well", query, perRow, w.bytes>>20)
		}
		allocs := testing.AllocsPerRun(3, func() { serve() })
		if per := allocs / float64(rows); per > 12 {
			t.Errorf("%s: %.1f allocations per entry (%.0f in all), want at most 12", query, per, allocs)
		}
		t.Logf("%s: %d bytes (%.0f per row) in %d writes, %.1f allocations per entry", query, w.bytes, perRow, w.writes, allocs/float64(rows))
	}
	// And as JSON.
	w := &countingWriter{hdr: http.Header{}}
	req := httptest.NewRequest("GET", "/b3/"+root.Hex()+"/", nil)
	req.Header.Set("Accept", "application/json")
	h.ServeHTTP(w, req)
	if w.largest > 64<<10 || w.bytes < n*50 {
		t.Errorf("JSON: %d bytes, largest write %d", w.bytes, w.largest)
	}
}

// BenchmarkListing renders a listing of 20,000 entries:
//
//	go test -run XXX -bench Listing ./httpfront
func BenchmarkListing(b *testing.B) {
	dirs, root := bigDirectory(b, 20000)
	_, blobs, _ := newStores(b)
	h := httpfront.New(blobs, dirs, httpfront.Options{AutoIndex: true})
	target := "/b3/" + root.Hex() + "/?sort=size"
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(&countingWriter{hdr: http.Header{}}, httptest.NewRequest("GET", target, nil))
	}
}

// Names that mean something in HTML are shown as they are and break
// nothing: parsed as a browser parses it, the listing has one row per
// entry with the name as its text and link, and no element but ours.
func TestListingHostileNames(t *testing.T) {
	names := []string{`<script>alert(1)<\\script>`, `<td>`, `<b>bold<b>`, `a"b`, `a'b`, `&amp;`, `&lt;td&gt;x`, `+x`, `<!--`, `]]>`,
		`javascript:alert(1)`, `?q=1`, `#top`, `%2e%2e`, "tab\there", "\u202eevil", "<img src=x onerror=alert(1)>"}
	dirs := dirstore.NewMemory()
	ctx := context.Background()
	var entries []castore.Entry
	for i, n := range names {
		node := castore.FileNode(castore.Sum([]byte(n)), uint64(i), false)
		if i%3 == 1 {
			node = castore.SymlinkNode(n)
		}
		entries = append(entries, castore.Entry{Name: castore.PathComponent(n), Node: node})
	}
	dir, err := castore.NewDirectory(entries...)
	if err != nil {
		t.Fatal(err)
	}
	root, err := dirs.Put(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, blobs, _ := newStores(t)
	h := httpfront.New(blobs, dirs, httpfront.Options{AutoIndex: true})
	resp := do(t, h, "GET", "/b3/"+root.Hex()+"/")
	wantStatus(t, resp, 200)
	doc, err := html.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][2]string // name text, href
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "img", "iframe", "object", "embed":
				t.Errorf("a <%s> element in the listing", n.Data)
			case "td":
				if attr(n, "class") == "name" && n.FirstChild != nil {
					a := n.FirstChild
					rows = append(rows, [2]string{text(a), attr(a, "href")})
				}
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					t.Errorf("an event handler attribute %s=%q", a.Key, a.Val)
				}
			}
		}
		for c := range n.ChildNodes() {
			walk(c)
		}
	}
	walk(doc)
	if len(rows) != len(names) {
		t.Fatalf("%d rows, want %d: %q", len(rows), len(names), rows)
	}
	for _, r := range rows {
		if !slices.Contains(names, r[0]) {
			t.Errorf("row %q is not one of the names", r[0])
		}
		if want := "./" + url.PathEscape(r[0]); r[1] != want {
			t.Errorf("row %q links to %q, want %q", r[0], r[1], want)
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := range n.ChildNodes() {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
