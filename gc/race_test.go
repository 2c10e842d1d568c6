package gc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/s3store"
	"github.com/castore-go/castore/refstore"
)

// testRace runs imports that deduplicate against old, unreferenced
// objects (and so touch them) concurrently with runs of a small grace,
// with writers removing their older tags so there is garbage; afterwards
// every tag still set reads back whole through a store that remembers
// nothing, and the store verifies clean.
//
//	go test -count=20 -run 'TestRace' ./gc/
func testRace(t *testing.T, store objectstore.Store, grace, writing time.Duration, makeOld func()) {
	ctx := t.Context()
	refs := refstore.NewObjectStore(store)
	newServices := func() (*chunkstore.Chunked, *dirstore.Bundles) {
		blobs, err := chunkstore.NewChunked(store, chunkstore.ChunkedOptions{AvgChunkSize: 8 << 10, FreshenAge: grace / 2})
		if err != nil {
			t.Fatal(err)
		}
		dirs, err := dirstore.NewBundles(store, 0)
		if err != nil {
			t.Fatal(err)
		}
		return blobs, dirs
	}
	// The pool of files trees are made of.
	pool := make([][]byte, 24)
	for i := range pool {
		pool[i] = data(1<<10+rand.IntN(60<<10), uint64(100+i))
	}
	tree := func(blobs *chunkstore.Chunked, dirs *dirstore.Bundles, r *rand.Rand, unique uint64) (castore.Node, error) {
		dir, err := os.MkdirTemp(t.TempDir(), "tree")
		if err != nil {
			return castore.Node{}, err
		}
		for _, i := range r.Perm(len(pool))[:8] {
			sub := filepath.Join(dir, fmt.Sprintf("d%d", i%3))
			os.MkdirAll(sub, 0o755)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d", i)), pool[i], 0o644); err != nil {
				return castore.Node{}, err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "unique"), data(20<<10, unique), 0o644); err != nil {
			return castore.Node{}, err
		}
		return ingest.ImportPath(ctx, blobs, dirs, dir, ingest.Options{})
	}
	// Old, unreferenced objects: trees imported and never tagged.
	{
		blobs, dirs := newServices()
		r := rand.New(rand.NewPCG(1, 1))
		for i := range 6 {
			if _, err := tree(blobs, dirs, r, uint64(1000+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	makeOld()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		stop    = make(chan struct{})
		errs    []error
		swept   int64
		touched int64
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for w := range 3 {
		wg.Go(func() {
			blobs, dirs := newServices()
			r := rand.New(rand.NewPCG(uint64(w), rand.Uint64()))
			var last string
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				root, err := tree(blobs, dirs, r, rand.Uint64())
				if err != nil {
					fail(fmt.Errorf("writer %d: import: %w", w, err))
					return
				}
				name := fmt.Sprintf("w%d/%d", w, n)
				if _, err := refs.Set(ctx, castore.Tag{Name: name, Root: root}, castore.ExpectAbsent()); err != nil {
					fail(fmt.Errorf("writer %d: set %s: %w", w, name, err))
					return
				}
				if last != "" && r.IntN(2) == 0 {
					if err := refs.Delete(ctx, last, castore.ExpectAny); err != nil {
						fail(err)
						return
					}
				}
				last = name
				time.Sleep(grace / 20)
			}
		})
	}
	gcRuns := 0
	runGC := func() {
		st, err := Run(ctx, store, refs, func() castore.DirectoryService { _, d := newServices(); return d }(), Options{Grace: grace, Bundles: true, AllowNoTags: true, TempDir: t.TempDir(), Concurrency: 4, Logger: quietLogger()})
		if err != nil {
			fail(fmt.Errorf("gc: %w", err))
			return
		}
		gcRuns++
		swept += st.Swept
		for _, ps := range st.Prefixes {
			touched += ps.Touched
		}
	}
	deadline := time.Now().Add(writing)
	for time.Now().Before(deadline) {
		runGC()
		time.Sleep(grace / 4)
	}
	close(stop)
	wg.Wait()
	runGC()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if swept == 0 {
		t.Errorf("%d runs moved nothing to trash: the race was not run", gcRuns)
	}
	t.Logf("%d gc runs moved %d objects to trash, %d candidates were touched meanwhile and kept", gcRuns, swept, touched)

	blobs, dirs := newServices()
	tags := 0
	for tg, err := range refs.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		tags++
		if err := readBack(t, blobs, dirs, tg.Root); err != nil {
			t.Errorf("tag %s after the race: %v", tg.Name, err)
		}
	}
	if tags == 0 {
		t.Fatal("no tags")
	}
	vs, err := blobs.Verify(ctx, func(d chunkstore.Damage) {
		if !strings.HasPrefix(d.Key, PrefixTrash) {
			t.Errorf("damage after the race: %+v", d)
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d tags read back whole; %d chunks, %d indexes verified", tags, vs.Chunks, vs.Indexes)
}

func TestRaceFile(t *testing.T) {
	dir := t.TempDir()
	fs, err := filestore.New(dir, &filestore.Options{Sync: filestore.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	testRace(t, fs, time.Second, 3*time.Second, func() {
		for oi, err := range fs.List(context.Background(), "") {
			if err != nil {
				t.Fatal(err)
			}
			fs.SetModTime(oi.Key, time.Now().Add(-time.Hour))
		}
	})
}

func TestRaceMinIO(t *testing.T) {
	m := testenv.MinIO(t)
	s, err := s3store.New(m.Client(), m.Bucket, strings.ReplaceAll(t.Name(), "/", "-")+fmt.Sprint(time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	grace := 2 * time.Second
	testRace(t, s, grace, 8*time.Second, func() { time.Sleep(grace + 2*time.Second) })
}
