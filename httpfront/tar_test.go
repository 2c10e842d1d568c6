package httpfront_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"mime"
	"net/http/httptest"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/httpfront"
	"github.com/castore-go/castore/ingest"
	"github.com/castore-go/castore/objectstore/memstore"
)

// ?format=tar and tar.zst send any directory as ingest.ExportTar writes
// it: castore import reads it back to the same digest.
func TestTar(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	for _, c := range []struct {
		path, format, ctype, filename string
	}{
		{"", "tar", "application/x-tar", f.root.Hex()[:16] + ".tar"},
		{"", "tar.zst", "application/zstd", f.root.Hex()[:16] + ".tar.zst"},
		{"lib/", "tar", "application/x-tar", "lib.tar"},
		{"docs/deep/", "tar.zst", "application/zstd", "deep.tar.zst"},
	} {
		resp := f.do(t, "GET", f.url(c.path)+"?format="+c.format)
		wantStatus(t, resp, 200)
		wantHeader(t, resp, "Content-Type", c.ctype)
		wantHeader(t, resp, "Cache-Control", immutable)
		_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
		if params["filename"] != c.filename {
			t.Errorf("%s?format=%s: Content-Disposition %q, want file name %s", c.path, c.format, resp.Header.Get("Content-Disposition"), c.filename)
		}
		data := []byte(body(t, resp))
		if c.format == "tar.zst" {
			zr, err := zstd.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			zr.Close()
		}
		want, err := castoreDescend(f, trimSlash(c.path))
		if c.path == "" {
			want, err = castore.DirectoryNode(f.root, 0), nil
		}
		if err != nil {
			t.Fatal(err)
		}
		_, blobs, dirs := newStores(t)
		got, err := ingest.ImportTar(context.Background(), blobs, dirs, bytes.NewReader(data), ingest.Options{})
		if err != nil {
			t.Fatalf("%s?format=%s: import: %v", c.path, c.format, err)
		}
		if got.Digest != want.Digest {
			t.Errorf("%s?format=%s: imported back as %s, want %s", c.path, c.format, got.Digest, want.Digest)
		}
		// The file's bytes are in it.
		tr := tar.NewReader(bytes.NewReader(data))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name == "./"+bigFile {
				b, _ := io.ReadAll(tr)
				if !bytes.Equal(b, f.files[bigFile]) {
					t.Errorf("%s in the tar: wrong bytes", bigFile)
				}
			}
		}
	}
	wantStatus(t, f.do(t, "GET", f.url("README.md")+"?format=tar"), 400)
	wantStatus(t, f.do(t, "GET", f.url("")+"?format=zip"), 400)
	// HEAD: the headers only.
	resp := f.do(t, "HEAD", f.url("")+"?format=tar")
	wantStatus(t, resp, 200)
	if b := body(t, resp); b != "" {
		t.Errorf("HEAD ?format=tar: %d bytes", len(b))
	}
}

func trimSlash(p string) string {
	if len(p) > 0 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}

// A directory store that addresses only roots (bundles) serves the
// subdirectories of a tree, their listings and their tars, from the
// root's closure.
func TestRootsOnlyStore(t *testing.T) {
	_, blobs, _ := newStores(t)
	dirs, err := dirstore.NewBundles(memstore.New(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if dirs.Addressing() != castore.AddressesRoots {
		t.Fatalf("bundles address %s", dirs.Addressing())
	}
	dir, files := writeFixtureDir(t)
	n, err := ingest.ImportPath(context.Background(), blobs, dirs, dir, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := httpfront.New(blobs, dirs, httpfront.Options{AutoIndex: true})
	u := "/b3/" + n.Digest.Hex() + "/"
	if got := body(t, do(t, h, "GET", u+"docs/deep/er/x.json")); got != string(files["docs/deep/er/x.json"]) {
		t.Errorf("a file three levels down: %q", got)
	}
	wantStatus(t, do(t, h, "GET", u+"docs/deep/"), 200)
	resp := do(t, h, "GET", u+"docs/?format=tar")
	wantStatus(t, resp, 200)
	_, b2, d2 := newStores(t)
	got, err := ingest.ImportTar(context.Background(), b2, d2, resp.Body, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := dirs.Get(context.Background(), n.Digest)
	want, _ := docs.Lookup("docs")
	if got.Digest != want.Digest {
		t.Errorf("docs/ as tar imports as %s, want %s", got.Digest, want.Digest)
	}
}

// A tar broken off midway (a chunk fails verification) ends the
// connection: the client sees an error, not a short archive.
func TestTarDamaged(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	damageChunk(t, f, bigFile, 10)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + f.url("") + "?format=tar")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("a tar of a damaged tree: read %d bytes with no error", len(data))
	}
}
