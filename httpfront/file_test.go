package httpfront_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/httpfront"
)

const immutable = "public, max-age=31536000, immutable"

// A file: its bytes and every header a browser or cache looks at.
func TestFileHeaders(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	want := f.files["README.md"]
	d := castore.Sum(want)
	for _, method := range []string{"GET", "HEAD"} {
		resp := f.do(t, method, f.url("README.md"))
		wantStatus(t, resp, 200)
		got := body(t, resp)
		if method == "GET" && got != string(want) {
			t.Errorf("GET: body %q, want %q", got, want)
		}
		if method == "HEAD" && got != "" {
			t.Errorf("HEAD: body %q, want none", got)
		}
		wantHeader(t, resp, "Content-Length", strconv.Itoa(len(want)))
		wantHeader(t, resp, "Content-Type", "text/plain; charset=utf-8")
		wantHeader(t, resp, "ETag", `"`+d.String()+`"`)
		wantHeader(t, resp, "Cache-Control", immutable)
		wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
		wantHeader(t, resp, "Accept-Ranges", "bytes")
		wantHeader(t, resp, "Content-Disposition", "")
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") {
			t.Errorf("%s: Content-Security-Policy %q, want a sandbox", method, csp)
		}
	}
}

// Content-Type comes from the extension, else from the first bytes.
func TestContentType(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	for p, want := range map[string]string{
		"README.md":           "text/plain; charset=utf-8",
		"index.html":          "text/html; charset=utf-8",
		"docs/deep/er/x.json": "application/json",
		bigFile:               "application/octet-stream",
		"noext":               "text/plain; charset=utf-8", // sniffed
		dataFile:              "application/octet-stream",  // sniffed, from its first chunk
		"bin/tool":            "text/plain; charset=utf-8", // sniffed
		"empty":               "text/plain; charset=utf-8", // sniffed: nothing is text
	} {
		resp := f.do(t, "GET", f.url(escapeName(p)))
		wantStatus(t, resp, 200)
		wantHeader(t, resp, "Content-Type", want)
		if got := body(t, resp); got != string(f.files[p]) {
			t.Errorf("%s: %d bytes, want %d", p, len(got), len(f.files[p]))
		}
	}
}

func escapeName(p string) string {
	parts := strings.Split(p, "/")
	for i, c := range parts {
		parts[i] = url.PathEscape(c)
	}
	return strings.Join(parts, "/")
}

// ?download asks the browser to save the file under its name.
func TestDownload(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	for p, want := range map[string]string{
		"README.md":         "README.md",
		"ünïcödé.txt":       "ünïcödé.txt",
		"weird name?#%.txt": "weird name?#%.txt",
	} {
		resp := f.do(t, "GET", f.url(escapeName(p))+"?download")
		wantStatus(t, resp, 200)
		typ, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
		if err != nil || typ != "attachment" || params["filename"] != want {
			t.Errorf("%s?download: Content-Disposition %q (%v), want attachment with filename %q", p, resp.Header.Get("Content-Disposition"), err, want)
		}
		if got := body(t, resp); got != string(f.files[p]) {
			t.Errorf("%s?download: body %q", p, got)
		}
	}
	// A raw blob has no name: its hex digest is the file name.
	d := castore.Sum(f.files["README.md"])
	resp := f.do(t, "GET", "/blobs/"+d.Hex()+"?download")
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if params["filename"] != d.Hex() {
		t.Errorf("/blobs/?download: Content-Disposition %q", resp.Header.Get("Content-Disposition"))
	}
}

// If-None-Match with the digest is 304, with or without W/, in a list or
// as *; another tag is a full answer.
func TestIfNoneMatch(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	d := castore.Sum(f.files[bigFile])
	etag := `"` + d.String() + `"`
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		for _, target := range []string{f.url(bigFile), "/blobs/" + d.Hex()} {
			resp := f.do(t, "GET", target, "If-None-Match", inm)
			wantStatus(t, resp, 304)
			wantHeader(t, resp, "ETag", etag)
			wantHeader(t, resp, "Cache-Control", immutable)
			if b := body(t, resp); b != "" {
				t.Errorf("304 with a body of %d bytes", len(b))
			}
		}
	}
	resp := f.do(t, "GET", f.url(bigFile), "If-None-Match", `"b3:other"`)
	wantStatus(t, resp, 200)
	if n := len(body(t, resp)); n != bigSize {
		t.Errorf("If-None-Match of another tag: %d bytes, want %d", n, bigSize)
	}
}

// Range: one range is 206 with Content-Range, several a multipart/byteranges
// body, one past the end 416 with the size; If-Range with the digest keeps
// the range, with another tag drops it.
func TestRange(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	data := f.files[bigFile]
	size := len(data)
	d := castore.Sum(data)
	for _, target := range []string{f.url(bigFile), "/blobs/" + d.Hex()} {
		for _, c := range []struct {
			rng        string
			start, end int // inclusive
		}{
			{"bytes=0-0", 0, 0},
			{"bytes=100-199", 100, 199},
			{"bytes=-1", size - 1, size - 1},
			{fmt.Sprintf("bytes=%d-", size-1000), size - 1000, size - 1},
			{"bytes=65000-300000", 65000, 300000}, // across chunks
			{fmt.Sprintf("bytes=%d-%d", size-10, size+100), size - 10, size - 1},
		} {
			resp := f.do(t, "GET", target, "Range", c.rng)
			wantStatus(t, resp, 206)
			wantHeader(t, resp, "Content-Range", fmt.Sprintf("bytes %d-%d/%d", c.start, c.end, size))
			wantHeader(t, resp, "Content-Length", strconv.Itoa(c.end-c.start+1))
			if got := body(t, resp); got != string(data[c.start:c.end+1]) {
				t.Errorf("%s: wrong bytes", c.rng)
			}
		}

		// Several ranges.
		resp := f.do(t, "GET", target, "Range", "bytes=0-9,1000000-1000009,-5")
		wantStatus(t, resp, 206)
		typ, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if err != nil || typ != "multipart/byteranges" {
			t.Fatalf("several ranges: Content-Type %q", resp.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(resp.Body, params["boundary"])
		for _, want := range [][2]int{{0, 9}, {1000000, 1000009}, {size - 5, size - 1}} {
			part, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			if cr := part.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", want[0], want[1], size) {
				t.Errorf("part Content-Range %q", cr)
			}
			if ct := part.Header.Get("Content-Type"); ct != "application/octet-stream" {
				t.Errorf("part Content-Type %q", ct)
			}
			got, _ := io.ReadAll(part)
			if !bytes.Equal(got, data[want[0]:want[1]+1]) {
				t.Errorf("part %v: wrong bytes", want)
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Errorf("after the last part: %v", err)
		}

		// Unsatisfiable.
		for _, rng := range []string{fmt.Sprintf("bytes=%d-", size), fmt.Sprintf("bytes=%d-%d", size+10, size+20)} {
			resp := f.do(t, "GET", target, "Range", rng)
			wantStatus(t, resp, 416)
			wantHeader(t, resp, "Content-Range", fmt.Sprintf("bytes */%d", size))
		}
		// Too many ranges.
		many := "bytes=" + strings.Repeat("0-0,", 100) + "1-1"
		wantStatus(t, f.do(t, "GET", target, "Range", many), 416)

		// If-Range.
		resp = f.do(t, "GET", target, "Range", "bytes=0-9", "If-Range", `"`+d.String()+`"`)
		wantStatus(t, resp, 206)
		resp = f.do(t, "GET", target, "Range", "bytes=0-9", "If-Range", `"b3:older"`)
		wantStatus(t, resp, 200)
		if n := len(body(t, resp)); n != size {
			t.Errorf("If-Range with another tag: %d bytes, want all %d", n, size)
		}
		// HEAD with a range: the headers of the 206, no body.
		resp = f.do(t, "HEAD", target, "Range", "bytes=10-19")
		wantStatus(t, resp, 206)
		wantHeader(t, resp, "Content-Length", "10")
		if b := body(t, resp); b != "" {
			t.Errorf("HEAD: %d bytes of body", len(b))
		}
	}
	// The empty file ignores a range (RFC 9110 allows it; Go does it).
	resp := f.do(t, "GET", f.url("empty"), "Range", "bytes=0-10")
	wantStatus(t, resp, 200)
}

// The digest of a tree in every form: as tvix prints it, URL-safe base64
// padded or not, with or without b3:, hex in either case.
func TestDigestForms(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	d := f.root
	forms := []string{
		d.String(),
		d.Hex(),
		strings.ToUpper(d.Hex()),
		base64.URLEncoding.EncodeToString(d[:]),
		base64.RawURLEncoding.EncodeToString(d[:]),
		"b3:" + base64.URLEncoding.EncodeToString(d[:]),
		"b3:" + base64.RawURLEncoding.EncodeToString(d[:]),
		strings.NewReplacer("/", "%2F", "+", "%2B", "=", "%3D", ":", "%3A").Replace(d.String()),
	}
	for _, form := range forms {
		resp := f.do(t, "GET", "/b3/"+form+"/README.md")
		wantStatus(t, resp, 200)
		if got := body(t, resp); got != string(f.files["README.md"]) {
			t.Errorf("%s: body %q", form, got)
		}
		wantStatus(t, f.do(t, "GET", "/b3/"+form+"/"), 200)
		resp = f.do(t, "GET", "/b3/"+form)
		wantStatus(t, resp, 301)
	}
	// A digest whose standard base64 has slashes: found by its length.
	var slashy castore.Digest
	for i := 0; ; i++ {
		slashy = castore.Sum([]byte(strconv.Itoa(i)))
		if strings.Contains(slashy.String(), "/") {
			break
		}
	}
	resp := f.do(t, "GET", "/b3/"+slashy.String()+"/")
	wantStatus(t, resp, 404)
	if b := body(t, resp); !strings.Contains(b, "no directory") {
		t.Errorf("a missing tree with slashes in its digest: %q", b)
	}
	for _, bad := range []string{"b3:short", "abc", d.Hex()[:63], d.Hex() + "0", "b3:" + d.Hex(), "zz" + d.Hex()[2:],
		base64.RawURLEncoding.EncodeToString(d[:]) + "x"} {
		resp := f.do(t, "GET", "/b3/"+bad+"/")
		wantStatus(t, resp, 400)
	}
}

// /blobs/DIGEST serves any blob, sniffing its type; a path below it, or an
// unknown digest, is 404.
func TestBlobs(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	data := f.files["noext"]
	d := castore.Sum(data)
	for _, form := range []string{d.String(), d.Hex(), base64.RawURLEncoding.EncodeToString(d[:])} {
		resp := f.do(t, "GET", "/blobs/"+form)
		wantStatus(t, resp, 200)
		wantHeader(t, resp, "Content-Type", "text/plain; charset=utf-8")
		wantHeader(t, resp, "Cache-Control", immutable)
		wantHeader(t, resp, "X-Content-Type-Options", "nosniff")
		if got := body(t, resp); got != string(data) {
			t.Errorf("%s: %q", form, got)
		}
	}
	wantStatus(t, f.do(t, "GET", "/blobs/"+d.Hex()+"/x"), 404)
	missing := castore.Sum([]byte("not stored"))
	resp := f.do(t, "GET", "/blobs/"+missing.Hex())
	wantStatus(t, resp, 404)
	wantHeader(t, resp, "Cache-Control", "no-store") // it may be uploaded the next moment
	wantStatus(t, f.do(t, "GET", "/blobs/nonsense"), 400)
	// The empty blob is always there.
	resp = f.do(t, "GET", "/blobs/"+castore.EmptyDigest.Hex())
	wantStatus(t, resp, 200)
	wantHeader(t, resp, "Content-Length", "0")
}
