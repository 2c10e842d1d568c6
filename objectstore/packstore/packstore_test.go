package packstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/packstore"
	"github.com/castore-go/castore/objectstore/storetest"
)

func open(t *testing.T, dir string, o packstore.Options) *packstore.Store {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := packstore.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objectstore.Store { return open(t, t.TempDir(), packstore.Options{}) })
}

// Small packs: every operation crosses pack boundaries.
func TestConformanceSmallPacks(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return open(t, t.TempDir(), packstore.Options{PackSize: 1 << 20, NoSync: true})
	})
}

func content(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	n := 1 + int(sum[0])*400
	return bytes.Repeat(sum[:], n/len(sum)+1)[:n]
}

func put(t *testing.T, s objectstore.Store, key string) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(content(key))); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, s objectstore.Store, key string) {
	t.Helper()
	r, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, content(key)) {
		t.Fatalf("get %s: %d bytes that differ, %v", key, len(got), err)
	}
}

// A store reopened, cleanly or not, has every object, deletions kept;
// objects are in few files however many there are.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, packstore.Options{PackSize: 4 << 20})
	for i := range 500 {
		put(t, s, fmt.Sprintf("chunks/b3/%04x/k%d", i%7, i))
	}
	if err := s.Delete(t.Context(), "chunks/b3/0000/k0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(dir)
	if len(files) > 12 {
		t.Fatalf("500 objects in %d files", len(files))
	}
	s = open(t, dir, packstore.Options{PackSize: 4 << 20})
	defer s.Close()
	for i := 1; i < 500; i++ {
		check(t, s, fmt.Sprintf("chunks/b3/%04x/k%d", i%7, i))
	}
	if _, err := s.Head(t.Context(), "chunks/b3/0000/k0"); err == nil {
		t.Fatal("a deleted object came back")
	}
}

// A second process (or a second Open) is refused while one has the store.
func TestInUse(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, packstore.Options{})
	defer s.Close()
	if _, err := packstore.Open(dir, packstore.Options{}); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second open: %v", err)
	}
}

// A store whose last writes never reached the disk (the unsynced tail of
// the open pack dropped, cut at every offset in its last records) opens
// and serves everything written before: a torn record is cut off, never
// served.
func TestTornTail(t *testing.T) {
	src := t.TempDir()
	s := open(t, src, packstore.Options{})
	for i := range 20 {
		put(t, s, fmt.Sprintf("k%02d", i))
	}
	// Not closed: the pack stays unsealed, as after a crash. Copy it as it
	// is, then cut it short by 1..N bytes.
	packs, _ := filepath.Glob(filepath.Join(src, "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("packs: %v", packs)
	}
	whole, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Cuts inside the last record only: its header, key and value.
	last := 15 + len("k19") + len(content("k19"))
	for _, cut := range []int{1, 2, 7, len(content("k19")) / 2, len(content("k19")), len(content("k19")) + 2, last - 4, last - 1} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(packs[0])), whole[:len(whole)-cut], 0o644); err != nil {
			t.Fatal(err)
		}
		s := open(t, dir, packstore.Options{})
		for i := range 19 {
			check(t, s, fmt.Sprintf("k%02d", i))
		}
		if r, err := s.Get(t.Context(), "k19"); err == nil {
			got, _ := io.ReadAll(r)
			if !bytes.Equal(got, content("k19")) {
				t.Fatalf("cut %d: a torn object was served", cut)
			}
		}
		put(t, s, "after") // and it takes writes after the cut
		s.Close()
		s = open(t, dir, packstore.Options{})
		check(t, s, "after")
		check(t, s, "k00")
		s.Close()
	}
}

// A cache stays within its bound, dropping the oldest packs, and keeps
// what is read often.
func TestCacheBound(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, packstore.Options{NoSync: true, MaxBytes: 4 << 20, PackSize: 512 << 10})
	defer s.Close()
	put(t, s, "hot")
	for i := range 2000 {
		put(t, s, fmt.Sprintf("cold%d", i))
		if i%10 == 0 {
			check(t, s, "hot") // about once a pack
		}
		if s.Size() > 4<<20+512<<10 {
			t.Fatalf("after %d puts the cache holds %d bytes", i, s.Size())
		}
	}
	check(t, s, "hot")
	if _, err := s.Head(t.Context(), "cold0"); err == nil {
		t.Fatal("the oldest object is still there")
	}
	check(t, s, "cold1999")
}

// TestCrash is the crash test (storetest.Crash): SIGKILL during
// concurrent puts, then every acknowledged put reads back whole.
func TestCrash(t *testing.T) {
	storetest.Crash(t, "TestCrash", 500, func(dir string) (objectstore.Store, error) {
		s, err := packstore.Open(dir, packstore.Options{PackSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			return nil, err
		}
		return s, nil
	})
}

// FuzzOpen opens a store whose one pack holds arbitrary bytes: never a
// panic, and whatever it then serves it serves whole.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	s, err := packstore.Open(dir, packstore.Options{})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		s.Put(context.Background(), fmt.Sprintf("k%d", i), bytes.NewReader(content(fmt.Sprint(i))))
	}
	s.Close()
	packs, _ := filepath.Glob(filepath.Join(dir, "*.pack"))
	sealed, _ := os.ReadFile(packs[0])
	f.Add(sealed)
	f.Add(sealed[:len(sealed)-30])
	f.Add([]byte("cas1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000001.pack"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := packstore.Open(dir, packstore.Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			return
		}
		defer s.Close()
		for info, err := range s.List(t.Context(), "") {
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Get(t.Context(), info.Key)
			if err != nil {
				t.Fatalf("listed %q but get: %v", info.Key, err)
			}
			got, err := io.ReadAll(r)
			if err != nil || int64(len(got)) != info.Size {
				t.Fatalf("%q: %d bytes, listed %d: %v", info.Key, len(got), info.Size, err)
			}
		}
	})
}

func TestURL(t *testing.T) {
	reg := objectstore.NewRegistry(packstore.Backend())
	for in, want := range map[string]packstore.Location{
		"pack:///a/b":                        {Path: "/a/b"},
		"pack:///a/b/../c?sync=none":         {Path: "/a/c", NoSync: true},
		"pack:///c?max_bytes=100":            {Path: "/c", NoSync: true, MaxBytes: 100},
		"pack:///c?max_bytes=100&sync=group": {Path: "/c", MaxBytes: 100},
	} {
		loc, err := reg.ParseURL(in)
		if err != nil || loc != want {
			t.Errorf("ParseURL(%q) = %#v, %v; want %#v", in, loc, err, want)
			continue
		}
		if again, err := reg.ParseURL(loc.String()); err != nil || again != loc {
			t.Errorf("%q: String %q parses to %#v, %v", in, loc.String(), again, err)
		}
	}
	for _, bad := range []string{"pack://host/a", "pack:///a?sync=each", "pack:///a?max_bytes=-1", "pack:///a?max_bytes=x", "pack:///a?other=1"} {
		if _, err := reg.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
		}
	}
	s, err := reg.Open(t.Context(), "pack://"+t.TempDir()+"?sync=none")
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "k")
	check(t, s, "k")
	s.Close()
}

// Writes under castore.DeferSync are readable at once and synced by Sync,
// one sync for them all; a writer that does not defer is told an object
// a deferred write stored is there only once it is on disk.
func TestDeferredSync(t *testing.T) {
	s := open(t, t.TempDir(), packstore.Options{})
	defer s.Close()
	ctx := t.Context()
	deferred := castore.DeferSync(ctx)
	for i := range 100 {
		if _, err := s.PutIfAbsent(deferred, fmt.Sprintf("k%02d", i), bytes.NewReader(content(fmt.Sprint(i)))); err != nil {
			t.Fatal(err)
		}
	}
	if n := packstore.Syncs(s); n != 0 {
		t.Fatalf("100 deferred writes made %d syncs, want 0", n)
	}
	r, err := s.Get(ctx, "k42")
	if err != nil {
		t.Fatalf("a deferred write does not read back at once: %v", err)
	}
	r.Close()
	if created, err := s.PutIfAbsent(ctx, "k05", bytes.NewReader(content("5"))); err != nil || created {
		t.Fatalf("PutIfAbsent of a key a deferred write stored: %v, %v", created, err)
	}
	if n := packstore.Syncs(s); n != 1 {
		t.Fatalf("a writer that does not defer found a deferred object after %d syncs, want 1", n)
	}
	for i := range 10 {
		if err := s.Put(deferred, fmt.Sprintf("m%d", i), bytes.NewReader(content("m"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := objectstore.Sync(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := objectstore.Sync(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n := packstore.Syncs(s); n != 2 {
		t.Fatalf("10 deferred writes and two Syncs: %d syncs in all, want 2", n)
	}
	put(t, s, "plain")
	if n := packstore.Syncs(s); n != 3 {
		t.Fatalf("a write that does not defer: %d syncs in all, want 3", n)
	}
}

// A put reads its bytes straight into its record: a value from a reader
// that tells its length costs about its size in allocations once, not
// the three to six times io.ReadAll's growing buffer and a copy into the
// record made; one from a reader that does not still reads back whole.
func TestPutCopiesOnce(t *testing.T) {
	s := open(t, t.TempDir(), packstore.Options{NoSync: true})
	defer s.Close()
	ctx := context.Background()
	value := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)
	const puts = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range puts {
		if err := s.Put(ctx, fmt.Sprintf("k/%d", i), bytes.NewReader(value)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := float64(after.TotalAlloc-before.TotalAlloc) / puts; per > 1.5*float64(len(value)) {
		t.Errorf("a put of %d bytes allocated %.0f bytes", len(value), per)
	}
	// Without a Len: read in pieces, grown as needed.
	if err := s.Put(ctx, "k/plain", struct{ io.Reader }{bytes.NewReader(value)}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"k/0", "k/plain"} {
		r, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(got, value) {
			t.Errorf("%s reads back %d bytes, not the %d put", key, len(got), len(value))
		}
	}
}

// A full pack is synced in the background, not under the store's lock:
// while that sync is held up, deferred writes go on into the next pack
// and reads are served (an fsync of 64 MiB held every writer and reader
// for 50-70 ms); Sync returns only once the sealed pack is on disk.
func TestSealSyncsInBackground(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "00000001.pack")
	release := make(chan struct{})
	var heldMu sync.Mutex
	held, synced := 0, 0
	packstore.HoldSyncs(t, func(name string) {
		if name != first {
			return
		}
		heldMu.Lock()
		held++
		heldMu.Unlock()
		<-release
		heldMu.Lock()
		synced++
		heldMu.Unlock()
	})
	s := open(t, dir, packstore.Options{PackSize: 64 << 10})
	defer s.Close()
	ctx := castore.DeferSync(t.Context())
	value := bytes.Repeat([]byte("x"), 10<<10)
	done := make(chan error, 1)
	go func() {
		// Seven fill the first pack; the eighth seals it, starting its
		// sync; the rest go to the second while that sync is held.
		for i := range 20 {
			if err := s.Put(ctx, fmt.Sprintf("k%02d", i), bytes.NewReader(value)); err != nil {
				done <- err
				return
			}
		}
		r, err := s.Get(ctx, "k00")
		if err == nil {
			r.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		close(release)
		t.Fatal("writes and reads wait for a sealed pack's sync")
	}
	synced1 := make(chan error, 1)
	go func() { synced1 <- objectstore.Sync(t.Context(), s) }()
	close(release)
	if err := <-synced1; err != nil {
		t.Fatal(err)
	}
	heldMu.Lock()
	defer heldMu.Unlock()
	if held == 0 || synced == 0 {
		t.Errorf("Sync returned with the sealed pack's sync begun %d times and finished %d", held, synced)
	}
}
