package httpfront_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/httpfront"
	"github.com/castore-go/castore/ingest"
	"github.com/castore-go/castore/objectstore/memstore"
)

// fixture is a tree in a chunked memory store, and a handler over it.
type fixture struct {
	mem   *memstore.Store
	blobs castore.BlobService
	dirs  castore.DirectoryService
	root  castore.Digest
	files map[string][]byte // path -> contents, of the regular files
	h     *httpfront.Handler
}

// fixtureFiles are the regular files of the fixture tree; bigFile and
// dataFile are filled with pseudo-random bytes of their size.
var fixtureFiles = map[string]string{
	"README.md":           "# hello\n\nthis is a tree\n",
	"index.html":          "<!DOCTYPE html><title>root index</title><p>root index</p>\n",
	"noext":               "plain words, no extension\n",
	"empty":               "",
	"bin/tool":            "#!/bin/sh\necho hi\n",
	"lib/libfoo.so.1":     "\x7fELF not really\n",
	"docs/index.html":     "<!DOCTYPE html><title>docs</title><h1>the docs</h1>\n",
	"docs/page.txt":       "a page of the docs\n",
	"weird name?#%.txt":   "a name that needs escaping\n",
	"ünïcödé.txt":         "unicode name\n",
	"docs/deep/er/x.json": "{\"x\": 1}\n",
}

const (
	bigFile  = "big.bin" // 3 MiB: many chunks
	bigSize  = 3 << 20
	dataFile = "data" // 1 MiB, no extension: sniffed
	dataSize = 1 << 20
)

// fixtureLinks are the symlinks of the fixture tree.
var fixtureLinks = map[string]string{
	"lib/libfoo.so": "libfoo.so.1",      // inside, same directory
	"lib/up":        "../README.md",     // inside, above
	"lib/dot":       ".",                // the directory itself
	"lib/out":       "/etc/passwd",      // absolute: outside
	"lib/escape":    "../../etc/passwd", // climbs above the root
	"lib/loop":      "loop",             // itself
	"lib/missing":   "nothing-here",     // inside, dangling
	"link-to-lib":   "lib",              // a directory
	"docs/up":       "..",               // the root
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// newStores returns a chunked blob store with small chunks over a memory
// object store, and a memory directory store.
func newStores(t testing.TB) (*memstore.Store, *chunkstore.Chunked, castore.DirectoryService) {
	t.Helper()
	mem := memstore.New()
	blobs, err := chunkstore.NewChunked(mem, chunkstore.ChunkedOptions{AvgChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return mem, blobs, dirstore.NewMemory()
}

// writeFixtureDir writes the fixture tree to a new directory on disk.
func writeFixtureDir(t testing.TB) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	for p, s := range fixtureFiles {
		files[p] = []byte(s)
	}
	files[bigFile] = randomBytes(bigSize, 1)
	files[dataFile] = randomBytes(dataSize, 2)
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(full, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range fixtureLinks {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

func newFixture(t testing.TB, o httpfront.Options) *fixture {
	t.Helper()
	mem, blobs, dirs := newStores(t)
	dir, files := writeFixtureDir(t)
	n, err := ingest.ImportPath(context.Background(), blobs, dirs, dir, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{mem: mem, blobs: blobs, dirs: dirs, root: n.Digest, files: files}
	f.h = httpfront.New(blobs, dirs, o)
	return f
}

// url is the URL path of p in the fixture's tree, the root in hex.
func (f *fixture) url(p string) string { return "/b3/" + f.root.Hex() + "/" + p }

// do serves one request in process.
func (f *fixture) do(t testing.TB, method, target string, hdr ...string) *http.Response {
	t.Helper()
	return do(t, f.h, method, target, hdr...)
}

// do serves one request to h in process; hdr are name, value pairs.
func do(t testing.TB, h http.Handler, method, target string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp
}

func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return string(b)
}

func wantStatus(t testing.TB, resp *http.Response, code int) {
	t.Helper()
	if resp.StatusCode != code {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d, want %d; body %.300q", resp.Request.Method, resp.Request.URL, resp.StatusCode, code, b)
	}
}

func wantHeader(t testing.TB, resp *http.Response, name, want string) {
	t.Helper()
	if got := resp.Header.Get(name); got != want {
		t.Errorf("%s %s: %s: %q, want %q", resp.Request.Method, resp.Request.URL, name, got, want)
	}
}
