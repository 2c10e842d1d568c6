package httpfront_test

import (
	"net/http/httptest"
	"testing"

	"github.com/castore-go/castore/httpfront"
)

// FuzzHandler sends any path and query to a handler over the fixture
// tree: it answers every one with a status of its own choosing (never
// 500: nothing in the tree is damaged), and never panics.
//
//	go test -fuzz FuzzHandler ./httpfront
func FuzzHandler(f *testing.F) {
	fx := newFixture(f, httpfront.Options{AutoIndex: true, IndexNames: []string{"index.htm"}})
	root := "/b3/" + fx.root.String()
	for _, s := range []string{"/", root + "/", root + "/lib/up", root + "/lib/../x", root + "/docs/up/docs/up/", "/blobs/" + fx.root.Hex(),
		root + "/lib/loop", root + "/big.bin", "/tags/x", root + "//", "/b3/?d=" + fx.root.Hex()} {
		f.Add(s, "")
		f.Add(s, "format=tar")
		f.Add(s, "sort=size&order=desc&q=a")
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		req := httptest.NewRequest("HEAD", "/", nil)
		req.URL.Path, req.URL.RawQuery = path, query
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 301, 302, 304, 400, 403, 404, 414, 416, 501:
		default:
			t.Fatalf("HEAD %q ?%q: %d: %s", path, query, rec.Code, rec.Body)
		}
	})
}
