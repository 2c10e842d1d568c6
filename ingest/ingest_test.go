package ingest_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
	"github.com/castore-go/castore/objectstore/memstore"
)

// stores returns fresh memory services; dirs counts closures that were
// committed, so a test can assert that a failed import left no root.
func stores(t *testing.T) (castore.BlobService, *countingDirs) {
	return chunkstore.NewMemory(), &countingDirs{DirectoryService: dirstore.NewMemory()}
}

type countingDirs struct {
	castore.DirectoryService
	closed int
}

func (c *countingDirs) NewPutter(ctx context.Context) castore.DirectoryPutter {
	return &countingPutter{DirectoryPutter: c.DirectoryService.NewPutter(ctx), c: c}
}

type countingPutter struct {
	castore.DirectoryPutter
	c *countingDirs
}

func (p *countingPutter) Close() (castore.Digest, error) {
	d, err := p.DirectoryPutter.Close()
	if err == nil {
		p.c.closed++
	}
	return d, err
}

// The tvix fixture tree: .keep, aa -> /nix/store/somewhereelse, keep/.keep.
func fixtureTree(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "root")
	must(t, os.MkdirAll(filepath.Join(dir, "keep"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, ".keep"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "keep", ".keep"), nil, 0o644))
	must(t, os.Symlink("/nix/store/somewhereelse", filepath.Join(dir, "aa")))
	return dir
}

const fixtureRoot = "b3:P5UaFa/VhvsxIe9NE9WC6BHODlp/IcBJf9h0kOniNVo="

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestImportFixtureFromDiskAndTar(t *testing.T) {
	ctx := context.Background()
	blobs, dirs := stores(t)
	dir := fixtureTree(t)
	n, err := ingest.ImportPath(ctx, blobs, dirs, dir, ingest.Options{})
	must(t, err)
	if n.Type != castore.NodeDirectory || n.Digest.String() != fixtureRoot || n.Size != 4 {
		t.Fatalf("ImportPath = %+v, want directory %s size 4", n, fixtureRoot)
	}
	// The same tree as a tar made by the system's tar, in every
	// compression, imports to the same root.
	for _, z := range []string{"", "gzip", "bzip2", "xz", "zstd"} {
		tb := systemTar(t, dir, z)
		n2, err := ingest.ImportTar(ctx, blobs, dirs, bytes.NewReader(tb), ingest.Options{})
		if err != nil {
			t.Fatalf("ImportTar (%s): %v", z, err)
		}
		if n2.Digest.String() != fixtureRoot {
			t.Errorf("ImportTar (%s) = %s", z, n2.Digest)
		}
	}
}

// systemTar archives dir as its single top-level directory, compressed
// with z (a program name) unless empty.
func systemTar(t *testing.T, dir, z string) []byte {
	t.Helper()
	args := []string{"-cf", "-", "-C", filepath.Dir(dir), filepath.Base(dir)}
	out, err := exec.Command("tar", args...).Output()
	must(t, err)
	if z == "" {
		return out
	}
	if _, err := exec.LookPath(z); err != nil {
		t.Fatalf("%s is needed for this test and is not installed: %v", z, err)
	}
	cmd := exec.Command(z, "-c")
	cmd.Stdin = bytes.NewReader(out)
	zout, err := cmd.Output()
	must(t, err)
	return zout
}

func TestImportSingleFileAndSymlink(t *testing.T) {
	ctx := context.Background()
	blobs, dirs := stores(t)
	d := t.TempDir()
	f := filepath.Join(d, "hello")
	must(t, os.WriteFile(f, []byte("Hello World!"), 0o755))
	n, err := ingest.ImportPath(ctx, blobs, dirs, f, ingest.Options{})
	must(t, err)
	if n.Type != castore.NodeFile || n.Digest.Hex() != "5ca7815adcb484e9a136c11efe69c1d530176d549b5d18d038eb5280b4b3470c" || n.Size != 12 || !n.Executable {
		t.Fatalf("file node %+v", n)
	}
	l := filepath.Join(d, "l")
	must(t, os.Symlink("../x", l))
	n, err = ingest.ImportPath(ctx, blobs, dirs, l, ingest.Options{})
	must(t, err)
	if n.Type != castore.NodeSymlink || n.Target != "../x" {
		t.Fatalf("symlink node %+v", n)
	}
	if dirs.closed != 0 {
		t.Errorf("a file import put %d closures", dirs.closed)
	}
}

func TestImportSpecialFiles(t *testing.T) {
	ctx := context.Background()
	blobs, dirs := stores(t)
	dir := fixtureTree(t)
	must(t, syscall.Mkfifo(filepath.Join(dir, "keep", "fifo"), 0o644))
	_, err := ingest.ImportPath(ctx, blobs, dirs, dir, ingest.Options{})
	if err == nil || !strings.Contains(err.Error(), "fifo") || !strings.Contains(err.Error(), filepath.Join("keep", "fifo")) {
		t.Fatalf("fifo: %v", err)
	}
	if dirs.closed != 0 {
		t.Fatal("a failed import left a root")
	}
	n, err := ingest.ImportPath(ctx, blobs, dirs, dir, ingest.Options{SkipSpecial: true})
	must(t, err)
	if n.Digest.String() != fixtureRoot {
		t.Fatalf("with --skip-special: %s", n.Digest)
	}
}

// tarOf builds an archive from raw headers (and contents for files).
func tarOf(t testing.TB, entries ...any) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i < len(entries); i++ {
		h := entries[i].(*tar.Header)
		var body []byte
		if h.Typeflag == tar.TypeReg {
			i++
			body = []byte(entries[i].(string))
			h.Size = int64(len(body))
		}
		must(t, tw.WriteHeader(h))
		if body != nil {
			_, err := tw.Write(body)
			must(t, err)
		}
	}
	must(t, tw.Close())
	return b.Bytes()
}

func dirH(name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}
}
func fileH(name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}
}
func linkH(name, target string, typ byte) *tar.Header {
	return &tar.Header{Name: name, Typeflag: typ, Linkname: target, Mode: 0o777}
}

func TestImportHostileTars(t *testing.T) {
	ctx := context.Background()
	good := tarOf(t, dirH("r/"), fileH("r/a"), "aaaa", fileH("r/b"), strings.Repeat("b", 100000))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	corruptGz := bytes.Clone(gz.Bytes())
	corruptGz[len(corruptGz)/2] ^= 0xff
	for _, tc := range []struct {
		name string
		tar  []byte
		want string
	}{
		{"parent traversal", tarOf(t, dirH("r/"), fileH("r/../../etc/passwd"), "x"), `".." is not allowed`},
		{"absolute path", tarOf(t, fileH("/etc/passwd"), "x"), "absolute"},
		{"symlink then file through it", tarOf(t, dirH("r/"), linkH("r/l", "/etc", tar.TypeSymlink), fileH("r/l/passwd"), "x"), "r/l is a symlink"},
		{"file then file through it", tarOf(t, dirH("r/"), fileH("r/f"), "x", fileH("r/f/g"), "y"), "r/f is a file"},
		{"hard link to nothing", tarOf(t, dirH("r/"), linkH("r/h", "r/missing", tar.TypeLink)), "not a file earlier"},
		{"hard link outside", tarOf(t, dirH("r/"), linkH("r/h", "../x", tar.TypeLink)), `".."`},
		{"truncated in a file", good[:len(good)-50000], "unexpected EOF"},
		{"truncated at an entry", good[:len(good)-1024], "end-of-archive marker"},
		{"empty input", nil, "end-of-archive marker"},
		{"corrupt gzip", corruptGz, "archive"},
		{"not a tar", []byte("this is not an archive at all, just some words......"), "archive"},
		{"device", tarOf(t, dirH("r/"), &tar.Header{Name: "r/dev", Typeflag: tar.TypeChar, Mode: 0o644}), "device"},
		{"two top-level entries", tarOf(t, dirH("a/"), dirH("b/")), "2 top-level entries (a, b)"},
		{"top-level file", tarOf(t, fileH("f"), "x"), "only top-level entry is a file"},
		{"name too long", tarOf(t, dirH("r/"), fileH("r/"+strings.Repeat("n", 256)), "x"), "longer than 255"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs, dirs := stores(t)
			_, err := ingest.ImportTar(ctx, blobs, dirs, bytes.NewReader(tc.tar), ingest.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if dirs.closed != 0 {
				t.Fatal("a refused archive left a root")
			}
		})
	}
}

func TestImportTarShapes(t *testing.T) {
	ctx := context.Background()
	blobs, dirs := stores(t)
	// Hard links become the file they link to.
	n1, err := ingest.ImportTar(ctx, blobs, dirs, bytes.NewReader(tarOf(t, dirH("r/"), fileH("r/a"), "data", linkH("r/b", "r/a", tar.TypeLink))), ingest.Options{})
	must(t, err)
	n2, err := ingest.ImportTar(ctx, blobs, dirs, bytes.NewReader(tarOf(t, dirH("r/"), fileH("r/a"), "data", fileH("r/b"), "data")), ingest.Options{})
	must(t, err)
	if n1.Digest != n2.Digest {
		t.Error("a hard link imports differently from a copy")
	}
	// Several top-level entries with --wrap, and a "./" archive, both give
	// the root that holds them.
	w, err := ingest.ImportTar(ctx, blobs, dirs, bytes.NewReader(tarOf(t, fileH("a"), "data", fileH("b"), "data")), ingest.Options{Wrap: true})
	must(t, err)
	dot, err := ingest.ImportTar(ctx, blobs, dirs, bytes.NewReader(tarOf(t, dirH("./"), fileH("./a"), "data", fileH("./b"), "data")), ingest.Options{})
	must(t, err)
	if w.Digest != n2.Digest || dot.Digest != n2.Digest {
		t.Errorf("--wrap %s and ./ %s, want %s", w.Digest, dot.Digest, n2.Digest)
	}
	// A later entry replaces an earlier one at the same path.
	rep, err := ingest.ImportTar(ctx, blobs, dirs, bytes.NewReader(tarOf(t, dirH("r/"), fileH("r/a"), "old", fileH("r/a"), "data", fileH("r/b"), "data")), ingest.Options{})
	must(t, err)
	if rep.Digest != n2.Digest {
		t.Error("a repeated entry does not replace the earlier one")
	}
}

// TestRoundTripGOROOT imports $(go env GOROOT), exports it to a directory
// and as a tar (re-imported), and compares with the original.
func TestRoundTripGOROOT(t *testing.T) {
	if testing.Short() {
		t.Skip("imports all of GOROOT; run without -short")
	}
	ctx := context.Background()
	blobs, dirs := stores(t)
	out0, err := exec.Command("go", "env", "GOROOT").Output()
	must(t, err)
	goroot := strings.TrimSpace(string(out0))
	var prog ingest.Progress
	n, err := ingest.ImportPath(ctx, blobs, dirs, goroot, ingest.Options{Progress: &prog})
	must(t, err)
	t.Logf("imported %d files, %d bytes: %s", prog.Files.Load(), prog.Bytes.Load(), n.Digest)

	// Exports count what they write: every file, as the import did.
	sameProgress := func(what string, p *ingest.Progress) {
		t.Helper()
		if p.Files.Load() != prog.Files.Load() || p.Bytes.Load() != prog.Bytes.Load() {
			t.Errorf("%s counted %d files, %d bytes; the import %d, %d", what, p.Files.Load(), p.Bytes.Load(), prog.Files.Load(), prog.Bytes.Load())
		}
		if p.TotalFiles.Load() != p.Files.Load() || p.TotalBytes.Load() != p.Bytes.Load() {
			t.Errorf("%s announced %d files, %d bytes; it counted %d, %d", what, p.TotalFiles.Load(), p.TotalBytes.Load(), p.Files.Load(), p.Bytes.Load())
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	var exported ingest.Progress
	must(t, ingest.ExportDir(ctx, blobs, dirs, n, out, ingest.ExportOptions{Progress: &exported}))
	sameTree(t, goroot, out)
	sameProgress("export", &exported)
	if err := ingest.ExportDir(ctx, blobs, dirs, n, out, ingest.ExportOptions{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a non-empty directory: %v", err)
	}

	var tb bytes.Buffer
	var tarred ingest.Progress
	must(t, ingest.ExportTar(ctx, blobs, dirs, n, &tb, ingest.ExportOptions{Progress: &tarred}))
	sameProgress("export as tar", &tarred)
	n2, err := ingest.ImportTar(ctx, blobs, dirs, &tb, ingest.Options{})
	must(t, err)
	if n2.Digest != n.Digest {
		t.Fatalf("tar round trip: %s, want %s", n2.Digest, n.Digest)
	}
	// The system's tar of GOROOT imports to the same root.
	cmd := exec.Command("tar", "-cf", "-", "-C", filepath.Dir(goroot), filepath.Base(goroot))
	pipe, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	n3, err := ingest.ImportTar(ctx, blobs, dirs, pipe, ingest.Options{})
	must(t, err)
	must(t, cmd.Wait())
	if n3.Digest != n.Digest {
		t.Fatalf("system tar of GOROOT: %s, want %s", n3.Digest, n.Digest)
	}

	// Copied into empty stores (chunked blobs this time), it exports
	// identical again; a second copy sends nothing.
	toBlobs, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{})
	must(t, err)
	toDirs := dirstore.NewMemory()
	var st ingest.CopyStats
	var copied ingest.Progress
	must(t, ingest.Copy(ctx, blobs, dirs, toBlobs, toDirs, n, ingest.Options{Progress: &copied}, &st))
	t.Logf("copy: %d blobs (%d bytes), %d directories", st.Blobs.Load(), st.Bytes.Load(), st.Directories)
	if copied.Files.Load() != st.Blobs.Load()+st.BlobsSkipped.Load() || copied.Bytes.Load() < st.Bytes.Load() {
		t.Errorf("copy's progress: %d blobs, %d bytes; its stats: %d copied + %d there, %d bytes",
			copied.Files.Load(), copied.Bytes.Load(), st.Blobs.Load(), st.BlobsSkipped.Load(), st.Bytes.Load())
	}
	if copied.TotalFiles.Load() != copied.Files.Load() || copied.TotalBytes.Load() != copied.Bytes.Load() {
		t.Errorf("copy announced %d blobs, %d bytes; it counted %d, %d", copied.TotalFiles.Load(), copied.TotalBytes.Load(), copied.Files.Load(), copied.Bytes.Load())
	}
	out2 := filepath.Join(t.TempDir(), "out2")
	must(t, ingest.ExportDir(ctx, toBlobs, toDirs, n, out2, ingest.ExportOptions{}))
	sameTree(t, goroot, out2)
	var again ingest.CopyStats
	must(t, ingest.Copy(ctx, blobs, dirs, toBlobs, toDirs, n, ingest.Options{}, &again))
	if again.Blobs.Load() != 0 || again.Directories != 0 {
		t.Errorf("a second copy sent %d blobs and %d directories, want none", again.Blobs.Load(), again.Directories)
	}
}

// sameTree compares two trees with diff -r --no-dereference and checks
// that executable bits match.
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	if out, err := exec.Command("diff", "-r", "--no-dereference", a, b).CombinedOutput(); err != nil {
		t.Fatalf("diff -r: %v\n%.2000s", err, out)
	}
	n := 0
	for p, fi := range walkFiles(t, a) {
		fb, err := os.Lstat(filepath.Join(b, p))
		must(t, err)
		if fi.Mode().IsRegular() && (fi.Mode()&0o100 != 0) != (fb.Mode()&0o100 != 0) {
			t.Errorf("%s: executable bit differs", p)
		}
		n++
	}
	t.Logf("compared %d entries", n)
}

func walkFiles(t *testing.T, root string) iter.Seq2[string, fs.FileInfo] {
	return func(yield func(string, fs.FileInfo) bool) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if !yield(rel, fi) {
				return filepath.SkipAll
			}
			return nil
		})
		must(t, err)
	}
}

// A failing blob service fails the import with its error and no root.
// (The fixture's files are empty, which need no blob written: one more
// file has bytes.)
func TestImportBlobFailure(t *testing.T) {
	_, dirs := stores(t)
	tree := fixtureTree(t)
	must(t, os.WriteFile(filepath.Join(tree, "keep", "data"), []byte("some bytes"), 0o644))
	_, err := ingest.ImportPath(context.Background(), failingBlobs{chunkstore.NewMemory()}, dirs, tree, ingest.Options{})
	if !errors.Is(err, errFull) {
		t.Fatalf("got %v", err)
	}
	if dirs.closed != 0 {
		t.Fatal("a failed import left a root")
	}
}

var errFull = errors.New("disk full")

type failingBlobs struct{ castore.BlobService }

func (failingBlobs) Create(context.Context) castore.BlobWriter { return failingWriter{} }

type failingWriter struct{}

func (failingWriter) Write(p []byte) (int, error)    { return len(p), nil }
func (failingWriter) Close() (castore.Digest, error) { return castore.Digest{}, errFull }

var _ io.Writer = failingWriter{}
