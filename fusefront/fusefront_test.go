//go:build linux

package fusefront_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/fusefront"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore/memstore"
)

// The names and fixtures of tvix's fs/fuse/tests.rs.
const (
	blobAName         = "00000000000000000000000000000000-test"
	blobBName         = "55555555555555555555555555555555-test"
	helloWorldName    = "66666666666666666666666666666666-test"
	symlinkName       = "11111111111111111111111111111111-test"
	symlinkName2      = "44444444444444444444444444444444-test"
	dirWithKeepName   = "22222222222222222222222222222222-test"
	dirComplicatedNam = "33333333333333333333333333333333-test"
)

var (
	blobA      = []byte{0x00, 0x01}
	blobB      = bytes.Repeat(seq255(), 4*1024) // about 1 MB
	helloWorld = []byte("Hello World!")
)

func seq255() []byte {
	b := make([]byte, 255)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// requireFUSE fails (never skips) where FUSE cannot be mounted.
func requireFUSE(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("these tests mount FUSE filesystems and need /dev/fuse (load the fuse module; in a container, pass --device /dev/fuse --cap-add SYS_ADMIN): %v", err)
	}
}

// stores is one backend pair under test.
type stores struct {
	blobs castore.BlobService
	dirs  castore.DirectoryService
}

// backends are the stores every FUSE test runs over: in memory, and the
// chunked store with small chunks, so that reads of the larger blobs are
// ranged reads across many chunks.
var backends = []struct {
	name string
	open func(t testing.TB) stores
}{
	{"memory", func(t testing.TB) stores { return stores{chunkstore.NewMemory(), dirstore.NewMemory()} }},
	{"chunked", func(t testing.TB) stores {
		c, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{AvgChunkSize: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return stores{c, dirstore.NewMemory()}
	}},
}

// fixture builds the root nodes of one test, uploading what it needs.
type fixture struct {
	t     testing.TB
	s     stores
	roots map[castore.PathComponent]castore.Node
}

func newFixture(t testing.TB, s stores) *fixture {
	return &fixture{t: t, s: s, roots: map[castore.PathComponent]castore.Node{}}
}

func (f *fixture) putBlob(data []byte) castore.Digest {
	f.t.Helper()
	w := f.s.blobs.Create(context.Background())
	if _, err := w.Write(data); err != nil {
		f.t.Fatal(err)
	}
	d, err := w.Close()
	if err != nil {
		f.t.Fatal(err)
	}
	if d != castore.Sum(data) {
		f.t.Fatalf("blob stored as %s, want %s", d, castore.Sum(data))
	}
	return d
}

func (f *fixture) putDir(d *castore.Directory) {
	f.t.Helper()
	if _, err := f.s.dirs.Put(context.Background(), d); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) blobA() *fixture {
	f.roots[blobAName] = castore.FileNode(f.putBlob(blobA), uint64(len(blobA)), false)
	return f
}

func (f *fixture) blobB() *fixture {
	f.roots[blobBName] = castore.FileNode(f.putBlob(blobB), uint64(len(blobB)), false)
	return f
}

func (f *fixture) helloWorld() *fixture {
	f.roots[helloWorldName] = castore.FileNode(f.putBlob(helloWorld), uint64(len(helloWorld)), true)
	return f
}

func (f *fixture) symlink() *fixture {
	f.roots[symlinkName] = castore.SymlinkNode(blobAName)
	return f
}

func (f *fixture) symlink2() *fixture {
	f.roots[symlinkName2] = castore.SymlinkNode("/nix/store/somewhereelse")
	return f
}

func dirWithKeep(t testing.TB) *castore.Directory {
	return dirtest.MustDir(t, castore.Entry{Name: ".keep", Node: castore.FileNode(castore.EmptyDigest, 0, false)})
}

func dirComplicated(t testing.TB) *castore.Directory {
	k := dirWithKeep(t)
	return dirtest.MustDir(t,
		castore.Entry{Name: "keep", Node: k.Node()},
		castore.Entry{Name: ".keep", Node: castore.FileNode(castore.EmptyDigest, 0, false)},
		castore.Entry{Name: "aa", Node: castore.SymlinkNode("/nix/store/somewhereelse")},
	)
}

func (f *fixture) dirWithKeep() *fixture {
	f.putBlob(nil)
	d := dirWithKeep(f.t)
	f.putDir(d)
	f.roots[dirWithKeepName] = d.Node()
	return f
}

func (f *fixture) dirComplicated() *fixture {
	f.putBlob(nil)
	f.putDir(dirWithKeep(f.t))
	d := dirComplicated(f.t)
	f.putDir(d)
	f.roots[dirComplicatedNam] = d.Node()
	return f
}

// dirNodeWithoutDirectory names DIRECTORY_WITH_KEEP without storing it.
func (f *fixture) dirNodeWithoutDirectory() *fixture {
	f.roots[dirWithKeepName] = dirWithKeep(f.t).Node()
	return f
}

// fileNodeWithoutBlob names BLOB_A without storing it.
func (f *fixture) fileNodeWithoutBlob() *fixture {
	f.roots[blobAName] = castore.FileNode(castore.Sum(blobA), uint64(len(blobA)), false)
	return f
}

// mount mounts the fixture's named roots in a temporary directory and
// unmounts it when the test ends, even if it fails.
func (f *fixture) mount(o fusefront.Options) (string, *testenv.SyncBuffer) {
	f.t.Helper()
	return mountRoot(f.t, f.s, fusefront.Root{Named: f.roots}, o)
}

func mountRoot(t testing.TB, s stores, root fusefront.Root, o fusefront.Options) (string, *testenv.SyncBuffer) {
	t.Helper()
	requireFUSE(t)
	logs := &testenv.SyncBuffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	mnt := t.TempDir()
	srv, err := fusefront.Mount(mnt, s.blobs, s.dirs, root, o)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			if err := srv.UnmountLazy(); err != nil {
				t.Errorf("lazy unmount: %v", err)
			}
		}
	})
	return mnt, logs
}

// forBackends runs a FUSE test over every backend.
func forBackends(t *testing.T, test func(t *testing.T, s stores)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t)) })
	}
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v (%d)", what, err, want, int(want))
	}
}

func TestMount(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).mount(fusefront.Options{})
		fi, err := os.Stat(mnt)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o555 {
			t.Fatalf("stat of the mount root: %v, %v", fi, err)
		}
	})
}

func TestRootNotListable(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobA().mount(fusefront.Options{})
		_, err := os.ReadDir(mnt)
		wantErrno(t, "readdir of the root", err, syscall.EPERM)
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("readdir of the root: %v is not a permission error", err)
		}
	})
}

func TestRootWithListing(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobA().dirWithKeep().symlink().mount(fusefront.Options{ListRoot: true})
		es, err := os.ReadDir(mnt)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		if got := strings.Join(names, " "); got != blobAName+" "+symlinkName+" "+dirWithKeepName {
			t.Fatalf("root lists %s", got)
		}
		fi, err := es[0].Info()
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o444 || fi.Size() != int64(len(blobA)) {
			t.Errorf("first entry: %v %d", fi.Mode(), fi.Size())
		}
		if es[1].Type() != fs.ModeSymlink || !es[2].IsDir() {
			t.Errorf("entry types: %v %v", es[1].Type(), es[2].Type())
		}
	})
}

func TestStatFileAtRoot(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobA().mount(fusefront.Options{})
		fi, err := os.Stat(filepath.Join(mnt, blobAName))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o222 != 0 || fi.Size() != int64(len(blobA)) {
			t.Errorf("stat: %v %d", fi.Mode(), fi.Size())
		}
	})
}

func TestReadFileAtRoot(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobA().mount(fusefront.Options{})
		got, err := os.ReadFile(filepath.Join(mnt, blobAName))
		if err != nil || !bytes.Equal(got, blobA) {
			t.Fatalf("read %x, %v; want %x", got, err, blobA)
		}
	})
}

func TestReadLargeFileAtRoot(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobB().mount(fusefront.Options{})
		p := filepath.Join(mnt, blobBName)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(blobB)) {
			t.Fatalf("stat: %v, %v", fi, err)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, blobB) {
			t.Fatalf("read %d bytes (equal: %v), %v", len(got), bytes.Equal(got, blobB), err)
		}
	})
}

// TestReadRanges reads random ranges of a chunked file from several
// goroutines at once, through separate opens and one shared open.
func TestReadRanges(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		data := make([]byte, 8<<20+12345)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		f := newFixture(t, s)
		f.roots["big"] = castore.FileNode(f.putBlob(data), uint64(len(data)), false)
		mnt, _ := f.mount(fusefront.Options{})
		p := filepath.Join(mnt, "big")
		shared, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer shared.Close()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 7))
				own, err := os.Open(p)
				if err != nil {
					t.Error(err)
					return
				}
				defer own.Close()
				for i := range 50 {
					off := rng.Int64N(int64(len(data)))
					n := rng.Int64N(300 << 10)
					buf := make([]byte, n)
					r := own
					if i%2 == 0 {
						r = shared
					}
					got, err := r.ReadAt(buf, off)
					want := data[off:min(off+n, int64(len(data)))]
					if (err != nil && err != io.EOF) || !bytes.Equal(buf[:got], want) {
						t.Errorf("ReadAt(%d, %d) = %d, %v; bytes equal: %v", n, off, got, err, bytes.Equal(buf[:got], want))
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestSymlinkReadlink(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).symlink().mount(fusefront.Options{})
		p := filepath.Join(mnt, symlinkName)
		if target, err := os.Readlink(p); err != nil || target != blobAName {
			t.Fatalf("readlink = %q, %v", target, err)
		}
		// stat follows the symlink to a target that is not there.
		_, err := os.Stat(p)
		wantErrno(t, "stat through the dangling symlink", err, syscall.ENOENT)
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode().Type() != fs.ModeSymlink {
			t.Fatalf("lstat: %v, %v", fi, err)
		}
		_, err = os.ReadFile(p)
		wantErrno(t, "read through the dangling symlink", err, syscall.ENOENT)
	})
}

func TestReadStatThroughSymlink(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobA().symlink().mount(fusefront.Options{})
		viaLink, err := os.Stat(filepath.Join(mnt, symlinkName))
		if err != nil {
			t.Fatal(err)
		}
		direct, err := os.Stat(filepath.Join(mnt, blobAName))
		if err != nil {
			t.Fatal(err)
		}
		if viaLink.Mode() != direct.Mode() || viaLink.Size() != direct.Size() || !os.SameFile(viaLink, direct) {
			t.Errorf("through the symlink %v %d, directly %v %d", viaLink.Mode(), viaLink.Size(), direct.Mode(), direct.Size())
		}
		got, err := os.ReadFile(filepath.Join(mnt, symlinkName))
		if err != nil || !bytes.Equal(got, blobA) {
			t.Errorf("read through the symlink: %x, %v", got, err)
		}
	})
}

func TestReadStatDirectory(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).dirWithKeep().mount(fusefront.Options{})
		fi, err := os.Stat(filepath.Join(mnt, dirWithKeepName))
		if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o222 != 0 {
			t.Fatalf("stat: %v, %v", fi, err)
		}
	})
}

func TestXattr(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).dirWithKeep().blobA().symlink().mount(fusefront.Options{XAttr: true})
		// tvix's names and snix's, with the same values.
		for _, c := range []struct{ path, name, snix, value string }{
			{dirWithKeepName, fusefront.XattrDirectoryDigest, fusefront.SnixXattrDirectoryDigest, dirWithKeep(t).Digest().String()},
			{blobAName, fusefront.XattrBlobDigest, fusefront.SnixXattrBlobDigest, castore.Sum(blobA).String()},
			{dirWithKeepName + "/.keep", fusefront.XattrBlobDigest, fusefront.SnixXattrBlobDigest, castore.EmptyDigest.String()},
		} {
			p := filepath.Join(mnt, c.path)
			list := make([]byte, 1024)
			n, err := syscall.Listxattr(p, list)
			want := c.name + "\x00" + c.snix + "\x00"
			if err != nil || string(list[:n]) != want {
				t.Errorf("listxattr %s = %q, %v; want %q", c.path, list[:n], err, want)
			}
			if n, err := syscall.Listxattr(p, nil); err != nil || n != len(want) {
				t.Errorf("listxattr %s size = %d, %v", c.path, n, err)
			}
			for _, name := range []string{c.name, c.snix} {
				val := make([]byte, 1024)
				n, err = syscall.Getxattr(p, name, val)
				if err != nil || string(val[:n]) != c.value {
					t.Errorf("getxattr %s %s = %q, %v; want %q", c.path, name, val[:n], err, c.value)
				}
				if n, err := syscall.Getxattr(p, name, nil); err != nil || n != len(c.value) {
					t.Errorf("getxattr %s size = %d, %v", c.path, n, err)
				}
				_, err = syscall.Getxattr(p, name, make([]byte, 3))
				wantErrno(t, "getxattr into a short buffer", err, syscall.ERANGE)
			}
			_, err = syscall.Getxattr(p, "user.cheesecake", make([]byte, 1024))
			wantErrno(t, "getxattr of another name", err, syscall.ENODATA)
		}
		// A symlink has none.
		if n, err := unix.Llistxattr(filepath.Join(mnt, symlinkName), make([]byte, 64)); err != nil || n != 0 {
			t.Errorf("llistxattr of a symlink = %d, %v", n, err)
		}
	})
}

func TestXattrOff(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobA().mount(fusefront.Options{})
		_, err := syscall.Getxattr(filepath.Join(mnt, blobAName), fusefront.XattrBlobDigest, make([]byte, 128))
		wantErrno(t, "getxattr without --xattr", err, syscall.EOPNOTSUPP)
	})
}

func TestReadBlobInsideDir(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).dirWithKeep().mount(fusefront.Options{})
		p := filepath.Join(mnt, dirWithKeepName, ".keep")
		checkEmptyReadOnlyFile(t, p)
	})
}

func TestReadBlobDeepInsideDir(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).dirComplicated().mount(fusefront.Options{})
		p := filepath.Join(mnt, dirComplicatedNam, "keep", ".keep")
		checkEmptyReadOnlyFile(t, p)
	})
}

// checkEmptyReadOnlyFile checks that p is an empty regular file that
// nobody may write.
func checkEmptyReadOnlyFile(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o222 != 0 {
		t.Fatalf("stat: %v, %v", fi, err)
	}
	got, err := os.ReadFile(p)
	if err != nil || len(got) != 0 {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestReaddir(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).dirComplicated().mount(fusefront.Options{})
		es, err := os.ReadDir(filepath.Join(mnt, dirComplicatedNam))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 3 {
			t.Fatalf("%d entries, want 3", len(es))
		}
		if es[0].Name() != ".keep" || !es[0].Type().IsRegular() {
			t.Errorf("entry 0: %s %v", es[0].Name(), es[0].Type())
		}
		if fi, err := es[0].Info(); err != nil || fi.Size() != 0 {
			t.Errorf("entry 0 info: %v, %v", fi, err)
		}
		if es[1].Name() != "aa" || es[1].Type() != fs.ModeSymlink {
			t.Errorf("entry 1: %s %v", es[1].Name(), es[1].Type())
		}
		if es[2].Name() != "keep" || !es[2].IsDir() {
			t.Errorf("entry 2: %s %v", es[2].Name(), es[2].Type())
		}
	})
}

func TestReaddirDeep(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).dirComplicated().mount(fusefront.Options{})
		es, err := os.ReadDir(filepath.Join(mnt, dirComplicatedNam, "keep"))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 1 || es[0].Name() != ".keep" || !es[0].Type().IsRegular() {
			t.Fatalf("entries: %v", es)
		}
		if fi, err := es[0].Info(); err != nil || fi.Size() != 0 {
			t.Errorf("info: %v, %v", fi, err)
		}
	})
}

func TestAttributes(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobA().dirWithKeep().symlink().helloWorld().mount(fusefront.Options{})
		lstat := func(name string) *syscall.Stat_t {
			t.Helper()
			var st syscall.Stat_t
			if err := syscall.Lstat(filepath.Join(mnt, name), &st); err != nil {
				t.Fatal(err)
			}
			return &st
		}
		file, exe, dir, link := lstat(blobAName), lstat(helloWorldName), lstat(dirWithKeepName), lstat(symlinkName)
		for _, c := range []struct {
			name string
			st   *syscall.Stat_t
			mode uint32
			size int64
		}{
			{"file", file, syscall.S_IFREG | 0o444, int64(len(blobA))},
			{"executable", exe, syscall.S_IFREG | 0o555, int64(len(helloWorld))},
			{"directory", dir, syscall.S_IFDIR | 0o555, int64(dirWithKeep(t).Size())},
			{"symlink", link, syscall.S_IFLNK | 0o444, int64(len(blobAName))},
		} {
			if c.st.Mode != c.mode || c.st.Size != c.size {
				t.Errorf("%s: mode %o size %d, want %o %d", c.name, c.st.Mode, c.st.Size, c.mode, c.size)
			}
			if c.st.Uid != 0 || c.st.Gid != 0 {
				t.Errorf("%s: owner %d:%d, want 0:0", c.name, c.st.Uid, c.st.Gid)
			}
			if c.st.Atim.Sec != 0 || c.st.Mtim.Sec != 0 || c.st.Ctim.Sec != 0 {
				t.Errorf("%s: times %v %v %v, want the epoch", c.name, c.st.Atim, c.st.Mtim, c.st.Ctim)
			}
		}
	})
}

func ino(t *testing.T, p string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestSharedInodeDirectories(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).dirWithKeep().dirComplicated().mount(fusefront.Options{})
		a, b := ino(t, filepath.Join(mnt, dirWithKeepName)), ino(t, filepath.Join(mnt, dirComplicatedNam, "keep"))
		if a != b {
			t.Errorf("the same directory at two paths has inodes %d and %d", a, b)
		}
		if c := ino(t, filepath.Join(mnt, dirComplicatedNam)); c == a {
			t.Errorf("different directories share inode %d", c)
		}
	})
}

func TestSharedInodeFiles(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).dirComplicated().mount(fusefront.Options{})
		a, b := ino(t, filepath.Join(mnt, dirComplicatedNam, ".keep")), ino(t, filepath.Join(mnt, dirComplicatedNam, "keep", ".keep"))
		if a != b {
			t.Errorf("the same file at two paths has inodes %d and %d", a, b)
		}
	})
}

// TestExecutableBitSplitsInodes: the same blob as a plain and as an
// executable file is two inodes with two modes (tvix shares one).
func TestExecutableBitSplitsInodes(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		f := newFixture(t, s).helloWorld()
		f.roots["plain"] = castore.FileNode(castore.Sum(helloWorld), uint64(len(helloWorld)), false)
		mnt, _ := f.mount(fusefront.Options{})
		if ino(t, filepath.Join(mnt, "plain")) == ino(t, filepath.Join(mnt, helloWorldName)) {
			t.Error("plain and executable copies share an inode")
		}
		fi, err := os.Stat(filepath.Join(mnt, "plain"))
		if err != nil || fi.Mode().Perm() != 0o444 {
			t.Errorf("plain copy: %v, %v", fi, err)
		}
	})
}

func TestSharedInodeSymlinks(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).dirComplicated().symlink2().mount(fusefront.Options{})
		a, b := ino(t, filepath.Join(mnt, dirComplicatedNam, "aa")), ino(t, filepath.Join(mnt, symlinkName2))
		if a != b {
			t.Errorf("two symlinks to one target have inodes %d and %d", a, b)
		}
	})
}

func TestWrongPathsInRoot(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobA().mount(fusefront.Options{})
		for _, name := range []string{"00000000000000000000000000000000-tes", "0000000000000000000000000000000-test"} {
			_, err := os.Stat(filepath.Join(mnt, name))
			wantErrno(t, "stat "+name, err, syscall.ENOENT)
		}
		if _, err := os.Stat(filepath.Join(mnt, blobAName)); err != nil {
			t.Fatal(err)
		}
		_, err := os.Stat(filepath.Join(mnt, "00000000000000000000000000000000-tes"))
		wantErrno(t, "stat of the wrong name after the right one", err, syscall.ENOENT)
		_, err = os.Stat(filepath.Join(mnt, blobAName, "child"))
		wantErrno(t, "stat below a file", err, syscall.ENOTDIR)
	})
}

func TestWritesRefused(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, _ := newFixture(t, s).blobA().dirWithKeep().mount(fusefront.Options{})
		file := filepath.Join(mnt, blobAName)
		dir := filepath.Join(mnt, dirWithKeepName)
		_, err := os.Create(filepath.Join(mnt, "new"))
		wantErrno(t, "create in the root", err, syscall.EROFS)
		_, err = os.Create(filepath.Join(dir, "new"))
		wantErrno(t, "create in a directory", err, syscall.EROFS)
		_, err = os.OpenFile(file, os.O_WRONLY, 0)
		wantErrno(t, "open for writing", err, syscall.EROFS)
		_, err = os.OpenFile(file, os.O_RDWR|os.O_TRUNC, 0)
		wantErrno(t, "open with truncation", err, syscall.EROFS)
		wantErrno(t, "mkdir", os.Mkdir(filepath.Join(dir, "sub"), 0o755), syscall.EROFS)
		wantErrno(t, "rename", os.Rename(file, filepath.Join(mnt, "moved")), syscall.EROFS)
		wantErrno(t, "remove", os.Remove(filepath.Join(dir, ".keep")), syscall.EROFS)
		wantErrno(t, "rmdir", os.Remove(dir), syscall.EROFS)
		wantErrno(t, "symlink", os.Symlink("x", filepath.Join(dir, "l")), syscall.EROFS)
		wantErrno(t, "link", os.Link(file, filepath.Join(dir, "l")), syscall.EROFS)
		wantErrno(t, "chmod", os.Chmod(file, 0o777), syscall.EROFS)
		wantErrno(t, "truncate", os.Truncate(file, 0), syscall.EROFS)
		wantErrno(t, "setxattr", syscall.Setxattr(file, "user.x", []byte("y"), 0), syscall.EROFS)
		if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, blobA) {
			t.Errorf("after the refused writes the file reads %x, %v", got, err)
		}
	})
}

func TestMissingDirectory(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, logs := newFixture(t, s).dirNodeWithoutDirectory().mount(fusefront.Options{})
		p := filepath.Join(mnt, dirWithKeepName)
		// stat of the entry needs no fetch.
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			t.Fatalf("stat: %v, %v", fi, err)
		}
		_, err := os.ReadDir(p)
		wantErrno(t, "readdir", err, syscall.EIO)
		_, err = os.Stat(filepath.Join(p, ".keep"))
		wantErrno(t, "stat of a child", err, syscall.EIO)
		if d := dirWithKeep(t).Digest().String(); !strings.Contains(logs.String(), d) {
			t.Errorf("the log does not name the missing directory %s:\n%s", d, logs)
		}
	})
}

func TestMissingBlob(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		mnt, logs := newFixture(t, s).fileNodeWithoutBlob().mount(fusefront.Options{})
		p := filepath.Join(mnt, blobAName)
		if fi, err := os.Stat(p); err != nil || fi.Size() != int64(len(blobA)) {
			t.Fatalf("stat: %v, %v", fi, err)
		}
		_, err := os.ReadFile(p)
		wantErrno(t, "read", err, syscall.EIO)
		if d := castore.Sum(blobA).String(); !strings.Contains(logs.String(), d) {
			t.Errorf("the log does not name the missing blob %s:\n%s", d, logs)
		}
	})
}

// TestMissingChunk: a chunked blob whose index is there but one chunk is
// not opens, reads EIO where the chunk is needed, and the rest reads.
func TestMissingChunk(t *testing.T) {
	requireFUSE(t)
	objs := memstore.New()
	c, err := chunkstore.NewChunked(objs, chunkstore.ChunkedOptions{AvgChunkSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() }) // after the unmount
	s := stores{c, dirstore.NewMemory()}
	f := newFixture(t, s).blobB()
	chunks, err := c.Chunks(context.Background(), castore.Sum(blobB))
	if err != nil || len(chunks) < 10 {
		t.Fatalf("blob B has %d chunks, %v", len(chunks), err)
	}
	last := chunks[len(chunks)-1]
	if err := objs.Delete(context.Background(), chunkfmt.ChunkKey(last.Digest)); err != nil {
		t.Fatal(err)
	}
	mnt, logs := f.mount(fusefront.Options{})
	fh, err := os.Open(filepath.Join(mnt, blobBName))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	head := make([]byte, 4096)
	if _, err := fh.ReadAt(head, 0); err != nil || !bytes.Equal(head, blobB[:4096]) {
		t.Fatalf("read of the head: %v", err)
	}
	_, err = fh.ReadAt(make([]byte, 1), int64(len(blobB)-1))
	wantErrno(t, "read of the missing chunk", err, syscall.EIO)
	if !strings.Contains(logs.String(), castore.Sum(blobB).String()) || !strings.Contains(logs.String(), last.Digest.String()) {
		t.Errorf("the log does not name the blob and the chunk:\n%s", logs)
	}
}

// TestDirectoryRoot mounts one directory as the mount point itself.
func TestDirectoryRoot(t *testing.T) {
	forBackends(t, func(t *testing.T, s stores) {
		f := newFixture(t, s).dirComplicated()
		mnt, _ := mountRoot(t, s, fusefront.Root{Node: dirComplicated(t).Node()}, fusefront.Options{XAttr: true})
		es, err := os.ReadDir(mnt)
		if err != nil || len(es) != 3 {
			t.Fatalf("readdir of the root: %v, %v", es, err)
		}
		if got, err := os.ReadFile(filepath.Join(mnt, "keep", ".keep")); err != nil || len(got) != 0 {
			t.Fatalf("read: %q, %v", got, err)
		}
		val := make([]byte, 128)
		n, err := syscall.Getxattr(mnt, fusefront.XattrDirectoryDigest, val)
		if err != nil || string(val[:n]) != f.roots[dirComplicatedNam].Digest.String() {
			t.Errorf("root xattr %q, %v", val[:n], err)
		}
	})
}

func TestBadRoots(t *testing.T) {
	requireFUSE(t)
	s := backends[0].open(t)
	for name, root := range map[string]fusefront.Root{
		"file root":    {Node: castore.FileNode(castore.EmptyDigest, 0, false)},
		"both":         {Node: dirWithKeep(t).Node(), Named: map[castore.PathComponent]castore.Node{}},
		"bad name":     {Named: map[castore.PathComponent]castore.Node{"a/b": dirWithKeep(t).Node()}},
		"bad node":     {Named: map[castore.PathComponent]castore.Node{"a": {Type: 9}}},
		"empty target": {Named: map[castore.PathComponent]castore.Node{"a": castore.SymlinkNode("")}},
	} {
		if srv, err := fusefront.Mount(t.TempDir(), s.blobs, s.dirs, root, fusefront.Options{}); err == nil {
			srv.Unmount()
			t.Errorf("%s: mounted", name)
		}
	}
}

func TestMountpointChecks(t *testing.T) {
	s := backends[0].open(t)
	mnt, _ := newFixture(t, s).mount(fusefront.Options{})
	_, err := fusefront.Mount(mnt, s.blobs, s.dirs, fusefront.Root{}, fusefront.Options{})
	if err == nil || !strings.Contains(err.Error(), "already a mount point") {
		t.Errorf("mount over a mount: %v", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := fusefront.Mount(file, s.blobs, s.dirs, fusefront.Root{}, fusefront.Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("mount on a file: %v", err)
	}
	if _, err := fusefront.Mount(filepath.Join(t.TempDir(), "nope"), s.blobs, s.dirs, fusefront.Root{}, fusefront.Options{}); err == nil {
		t.Error("mount on a missing directory succeeded")
	}
}

// TestAllowOther reads a file as another user: refused unless the mount
// allows other users.
func TestAllowOther(t *testing.T) {
	requireFUSE(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test reads the mount as another user and must run as root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("this test needs setpriv (util-linux): %v", err)
	}
	for _, allow := range []bool{false, true} {
		mnt, _ := newFixture(t, backends[0].open(t)).blobA().mount(fusefront.Options{AllowOther: allow})
		if err := os.Chmod(filepath.Dir(mnt), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", filepath.Join(mnt, blobAName)).CombinedOutput()
		switch {
		case allow && (err != nil || !bytes.Equal(out, blobA)):
			t.Errorf("with AllowOther, another user reads %q, %v", out, err)
		case !allow && err == nil:
			t.Errorf("without AllowOther, another user read %q", out)
		}
	}
}
