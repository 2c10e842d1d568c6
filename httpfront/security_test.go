package httpfront_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/httpfront"
)

// rawGet sends a request line as given (no client cleans it) and returns
// the status code.
func rawGet(t *testing.T, srv *httptest.Server, target string) int {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %.100s: %v", target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Hostile paths are refused before anything is looked up: dot segments
// however encoded, empty components, NUL, overlong UTF-8, names and paths
// too long.
func TestHostilePaths(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	root := "/b3/" + f.root.Hex()
	for _, c := range []struct {
		path string
		code int
	}{
		{root + "/../" + f.root.Hex() + "/README.md", 400},
		{root + "/lib/../README.md", 400},
		{root + "/lib/%2e%2e/README.md", 400},
		{root + "/lib/%2E%2E/README.md", 400},
		{root + "/lib/.%2e/README.md", 400},
		{root + "/%2e%2e%2f%2e%2e%2fetc/passwd", 400},
		{root + "/lib%2f..%2fREADME.md", 400},
		{root + "/./README.md", 400},
		{root + "/%2e/README.md", 400},
		{root + "//README.md", 400},
		{root + "/lib//libfoo.so.1", 400},
		{root + "/lib///", 400},
		{root + "/README.md%00", 400},
		{root + "/README.md%00.txt", 400},
		{root + "/%c0%ae%c0%ae/etc/passwd", 400},
		{root + "/%e0%80%ae%e0%80%ae/x", 400},
		{root + "/%ed%a0%80", 400},
		{root + "/" + strings.Repeat("a", 256), 400},
		{root + strings.Repeat("/"+strings.Repeat("a", 200), 50), 414},
		{"/b3/..%2f..%2fetc/passwd", 400},
		{"/b3/%00", 400},
		{"/blobs/../b3/" + f.root.Hex() + "/", 400},
		{"/blobs/" + f.root.Hex() + "%00", 400},
		// Fine, and found or not.
		{root + "/lib/libfoo.so.1", 200},
		{root + "/lib/..x", 404},
		{root + "/lib/...", 404},
		{root + "/lib/%5c..%5cREADME.md", 404}, // a backslash is a name's byte
		{root + "/%ff%fe", 404},                // not UTF-8, but a name castore may hold
	} {
		if got := rawGet(t, srv, c.path); got != c.code {
			t.Errorf("GET %.120s: %d, want %d", c.path, got, c.code)
		}
	}
	// Through the handler too, where the path is already decoded.
	for _, p := range []string{root + "/a/../b", root + "/a\x00b", root + "/a//b"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = p
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != 400 {
			t.Errorf("decoded path %q: %d, want 400", p, rec.Code)
		}
	}
}

// Only GET and HEAD.
func TestMethods(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		resp := f.do(t, m, f.url("README.md"))
		wantStatus(t, resp, 405)
		wantHeader(t, resp, "Allow", "GET, HEAD")
	}
}

// The pages around the trees: the home page and its form, the place
// named roots will take, unknown paths, a tree that is not stored.
func TestOtherPages(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	resp := f.do(t, "GET", "/")
	wantStatus(t, resp, 200)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("/: CSP %q", csp)
	}
	resp = f.do(t, "GET", "/b3/?d="+f.root.String())
	wantStatus(t, resp, 302)
	wantHeader(t, resp, "Location", "/b3/"+f.root.String()+"/")
	wantStatus(t, f.do(t, "GET", "/b3/?d=nonsense"), 400)
	wantStatus(t, f.do(t, "GET", "/tags/release/"), 501) // no Refs
	wantStatus(t, f.do(t, "GET", "/nothing"), 404)
	// A tree that is not stored; one whose digest is a blob's says so.
	resp = f.do(t, "GET", "/b3/"+castore.Sum([]byte("x")).Hex()+"/")
	wantStatus(t, resp, 404)
	wantHeader(t, resp, "Cache-Control", "no-store") // absent now, maybe stored the next moment
	blob := castore.Sum(f.files["README.md"])
	resp = f.do(t, "GET", "/b3/"+blob.Hex()+"/")
	wantStatus(t, resp, 404)
	if b := body(t, resp); !strings.Contains(b, "/blobs/"+blob.Hex()) {
		t.Errorf("a blob's digest under /b3/: the page does not point to /blobs/: %q", b)
	}
}

// damageChunk replaces chunk k of the file at p with the stored bytes of
// another chunk: valid zstd, the wrong content.
func damageChunk(t testing.TB, f *fixture, p string, k int) {
	t.Helper()
	ctx := context.Background()
	chunks, err := f.blobs.Chunks(ctx, castore.Sum(f.files[p]))
	if err != nil || len(chunks) <= k+1 {
		t.Fatalf("%s: %d chunks (%v), want more than %d", p, len(chunks), err, k+1)
	}
	r, err := f.mem.Get(ctx, chunkfmt.ChunkKey(chunks[k+1].Digest))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := io.ReadAll(r)
	r.Close()
	if err := f.mem.Put(ctx, chunkfmt.ChunkKey(chunks[k].Digest), bytes.NewReader(other)); err != nil {
		t.Fatal(err)
	}
}

// A blob that fails verification midway ends the response with a broken
// connection: the client gets the verified bytes before the damage and
// an error, never a wrong byte; the abort is counted.
func TestDamagedBlob(t *testing.T) {
	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(reader))
	f := newFixture(t, httpfront.Options{AutoIndex: true, MeterProvider: mp})
	damageChunk(t, f, bigFile, 20)
	want := f.files[bigFile]
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	for _, c := range []struct{ name, rng string }{
		{"whole", ""},
		{"a range over the damage", "bytes=1000000-2000000"},
		{"several ranges, one over the damage", "bytes=0-10,1000000-2000000"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+f.url(bigFile), nil)
		if c.rng != "" {
			req.Header.Set("Range", c.rng)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err) // the headers come before the damage
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("%s: %d bytes and no error: want the connection broken off", c.name, len(got))
		}
		if c.rng == "" && !bytes.Equal(got, want[:len(got)]) {
			t.Errorf("%s: the %d bytes received are not the file's", c.name, len(got))
		}
		if c.rng == "bytes=1000000-2000000" && !bytes.Equal(got, want[1000000:1000000+len(got)]) {
			t.Errorf("%s: the %d bytes received are not the file's", c.name, len(got))
		}
	}
	// A range that misses the damage is served.
	resp := f.do(t, "GET", f.url(bigFile), "Range", "bytes=0-999")
	wantStatus(t, resp, 206)
	if body(t, resp) != string(want[:1000]) {
		t.Errorf("a range before the damage: wrong bytes")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if n := counter(rm, "castore_http_aborted_responses", "corrupt"); n != 3 {
		t.Errorf("castore_http_aborted_responses{reason=corrupt} = %d, want 3", n)
	}
	if !hasMetric(rm, "http.server.request.duration") {
		t.Errorf("no http.server.request.duration from otelhttp")
	}
}

func counter(rm metricdata.ResourceMetrics, name, reason string) int64 {
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, ok := dp.Attributes.Value("reason"); ok && v.AsString() == reason {
					n += dp.Value
				}
			}
		}
	}
	return n
}

func hasMetric(rm metricdata.ResourceMetrics, name string) bool {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return true
			}
		}
	}
	return false
}

// A file node whose size is not its blob's is refused before a byte is
// sent.
func TestSizeMismatch(t *testing.T) {
	_, blobs, dirs := newStores(t)
	ctx := context.Background()
	w := blobs.Create(ctx)
	w.Write([]byte("twelve bytes"))
	d, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := castore.NewDirectory(
		castore.Entry{Name: "short", Node: castore.FileNode(d, 5, false)},
		castore.Entry{Name: "long", Node: castore.FileNode(d, 50, false)},
		castore.Entry{Name: "missing", Node: castore.FileNode(castore.Sum([]byte("absent")), 6, false)},
	)
	if err != nil {
		t.Fatal(err)
	}
	root, err := dirs.Put(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	h := httpfront.New(blobs, dirs, httpfront.Options{AutoIndex: true})
	for _, name := range []string{"short", "long", "missing"} {
		resp := do(t, h, "GET", "/b3/"+root.Hex()+"/"+name)
		wantStatus(t, resp, 500)
		wantHeader(t, resp, "Cache-Control", "no-store") // never the immutable one of a good answer
		if b := body(t, resp); strings.Contains(b, "twelve") {
			t.Errorf("%s: the blob's bytes are in the error page", name)
		}
	}
}

// With tokens, every request needs one with the read role: as a bearer
// header, or as the password of Basic authentication (which a browser
// asks for, prompted by WWW-Authenticate).
func TestTokens(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(grpcapi.HashToken("reader")+" read\n"+grpcapi.HashToken("writer")+" write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := grpcapi.LoadTokens(file)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, httpfront.Options{AutoIndex: true, ReadAllowed: func(tok string) bool { return tokens.Role(tok) >= grpcapi.RoleRead }})
	basic := func(user, pass string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	for _, target := range []string{f.url("README.md"), f.url("lib/"), "/blobs/" + castore.Sum(f.files["README.md"]).Hex(), "/", "/nothing", f.url("") + "?format=tar"} {
		for _, c := range []struct {
			auth string
			code int
		}{
			{"", 401},
			{"Bearer nobody", 401},
			{"Bearer ", 401},
			{"Basic reader", 401}, // a Basic value is base64 of user:password
			{basic("x", "nobody"), 401},
			{"Bearer reader", 0},
			{"Bearer writer", 0},
			{"bearer reader", 0}, // the scheme in any case (RFC 9110)
			{"BEARER reader", 0},
			{basic("anyone", "reader"), 0},
		} {
			var hdr []string
			if c.auth != "" {
				hdr = []string{"Authorization", c.auth}
			}
			resp := f.do(t, "GET", target, hdr...)
			if c.code == 401 {
				wantStatus(t, resp, 401)
				if got := resp.Header.Values("WWW-Authenticate"); len(got) != 2 || !strings.HasPrefix(got[0], "Bearer") || !strings.HasPrefix(got[1], "Basic") {
					t.Errorf("%s with %q: WWW-Authenticate %q", target, c.auth, got)
				}
				if b := body(t, resp); strings.Contains(b, "hello") {
					t.Errorf("401 shows the file")
				}
			} else if resp.StatusCode == 401 {
				t.Errorf("%s with %q: 401", target, c.auth)
			}
		}
	}
}
