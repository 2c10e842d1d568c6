package gc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/refstore"
)

// env is a chunked store with bundles and tags on one memory store.
type env struct {
	t     *testing.T
	m     *memstore.Store
	blobs *chunkstore.Chunked
	dirs  *dirstore.Bundles
	refs  castore.RefService
}

func newEnv(t *testing.T) *env {
	m := memstore.New()
	blobs, err := chunkstore.NewChunked(m, chunkstore.ChunkedOptions{AvgChunkSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := dirstore.NewBundles(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, m: m, blobs: blobs, dirs: dirs, refs: refstore.NewObjectStore(m)}
}

// tree imports files (name -> content) as a directory and returns its root.
func (e *env) tree(files map[string][]byte) castore.Node {
	e.t.Helper()
	dir := e.t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	root, err := ingest.ImportPath(e.t.Context(), e.blobs, e.dirs, dir, ingest.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return root
}

func (e *env) tag(name string, root castore.Node, expires time.Time) {
	e.t.Helper()
	if _, err := e.refs.Set(e.t.Context(), castore.Tag{Name: name, Root: root, Expires: expires}, castore.ExpectAny); err != nil {
		e.t.Fatal(err)
	}
}

// age makes every object under prefix look written at d ago.
func (e *env) age(prefix string, d time.Duration) {
	e.t.Helper()
	for oi, err := range e.m.List(e.t.Context(), prefix) {
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.m.SetModTime(oi.Key, time.Now().Add(-d)); err != nil {
			e.t.Fatal(err)
		}
	}
}

// keys lists the keys under prefix, but GC's own mark.
func (e *env) keys(prefix string) []string {
	e.t.Helper()
	var ks []string
	for oi, err := range e.m.List(e.t.Context(), prefix) {
		if err != nil {
			e.t.Fatal(err)
		}
		if oi.Key == markKey {
			continue
		}
		ks = append(ks, oi.Key)
	}
	return ks
}

func (e *env) run(o Options) *Stats {
	e.t.Helper()
	st, err := e.tryRun(e.t.Context(), o)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) tryRun(ctx context.Context, o Options) (*Stats, error) {
	o.Bundles, o.AllowNoTags = true, true
	if o.TempDir == "" {
		o.TempDir = e.t.TempDir()
	}
	return Run(ctx, e.m, e.refs, e.dirs, o)
}

// readBack reads root's closure and every blob in it whole.
func readBack(t *testing.T, blobs castore.BlobService, dirs castore.DirectoryService, root castore.Node) error {
	t.Helper()
	all, err := closure.Read(t.Context(), dirs, root.Digest)
	if err != nil {
		return err
	}
	for _, d := range all {
		for _, en := range d.Entries() {
			if en.Node.Type != castore.NodeFile || en.Node.Digest == castore.EmptyDigest {
				continue
			}
			r, err := blobs.Open(t.Context(), en.Node.Digest)
			if err != nil {
				return fmt.Errorf("%s: %w", en.Name, err)
			}
			n, err := io.Copy(io.Discard, r)
			r.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", en.Name, err)
			}
			if uint64(n) != en.Node.Size {
				return fmt.Errorf("%s: %d bytes, want %d", en.Name, n, en.Node.Size)
			}
		}
	}
	return nil
}

func data(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// The whole cycle: a removed tag's and an expired tag's unshared data
// goes to trash, shared data and the remaining tag's stay; the trash is
// emptied by a later run once it is older than the grace, and the store
// then holds exactly the remaining tag's closure.
func TestCollect(t *testing.T) {
	e := newEnv(t)
	shared := data(100<<10, 1)
	a := e.tree(map[string][]byte{"shared": shared, "a-only": data(80<<10, 2), "small-a": []byte("a")})
	want := e.keys("") // a's objects (and nothing else yet)
	b := e.tree(map[string][]byte{"shared": shared, "b-only": data(90<<10, 3), "small-b": []byte("b")})
	c := e.tree(map[string][]byte{"c-only": data(70<<10, 4)})
	e.tag("keep/a", a, time.Time{})
	e.tag("gone/b", b, time.Time{})
	e.tag("expired/c", c, time.Now().Add(-time.Minute))
	if err := e.refs.Delete(t.Context(), "gone/b", castore.ExpectAny); err != nil {
		t.Fatal(err)
	}
	e.age("", 48*time.Hour)

	st := e.run(Options{})
	if st.Expired != 1 || st.Tags != 2 {
		t.Errorf("tags %d, expired %d: want 2 and 1", st.Tags, st.Expired)
	}
	if _, err := e.refs.Get(t.Context(), "expired/c"); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("expired tag after a run: %v, want it deleted", err)
	}
	if st.Swept == 0 || st.Reclaimed != 0 {
		t.Errorf("first run: swept %d, reclaimed %d: want some, and none (trash is young)", st.Swept, st.Reclaimed)
	}
	if err := readBack(t, e.blobs, e.dirs, a); err != nil {
		t.Fatalf("the kept tag's tree after a run: %v", err)
	}
	dataKeys := func(keys []string) []string {
		var out []string
		for _, k := range keys {
			if !strings.HasPrefix(k, "refs/") && !strings.HasPrefix(k, "gc/") {
				out = append(out, k)
			}
		}
		return out
	}
	if got, w := withoutTrash(dataKeys(e.keys(""))), want; !slices.Equal(got, w) {
		t.Errorf("data left after the first run:\n%v\nwant a's only:\n%v", got, w)
	}
	// A second run soon after: trash waits.
	st = e.run(Options{})
	if st.Swept != 0 || st.Reclaimed != 0 || st.Prefixes[PrefixChunks].Waiting == 0 {
		t.Errorf("second run: swept %d, reclaimed %d, waiting %d: want 0, 0, some", st.Swept, st.Reclaimed, st.Prefixes[PrefixChunks].Waiting)
	}
	// Once trash is older than the grace, it goes.
	e.age("trash/", 48*time.Hour)
	st = e.run(Options{})
	if st.Reclaimed == 0 || st.ReclaimedBytes == 0 {
		t.Errorf("third run reclaimed %d objects, %d bytes: want some", st.Reclaimed, st.ReclaimedBytes)
	}
	if got := dataKeys(e.keys("")); !slices.Equal(got, want) {
		t.Errorf("data left:\n%v\nwant exactly a's:\n%v", got, want)
	}
	if err := readBack(t, e.blobs, e.dirs, a); err != nil {
		t.Fatalf("the kept tag's tree at the end: %v", err)
	}
	// And the store verifies clean.
	st2, err := e.blobs.Verify(t.Context(), func(d chunkstore.Damage) { t.Errorf("damage: %+v", d) }, nil)
	if err != nil || st2.Chunks == 0 {
		t.Errorf("verify: %+v, %v", st2, err)
	}
}

func withoutTrash(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !strings.HasPrefix(k, PrefixTrash) {
			out = append(out, k)
		}
	}
	return out
}

// Young objects go nowhere, and what a young (untagged) bundle or index
// names stays even when old: a writer freshens only what it relies on.
func TestYoungSurvivorsKeepWhatTheyName(t *testing.T) {
	e := newEnv(t)
	root := e.tree(map[string][]byte{"big": data(200<<10, 5), "small": []byte("s")})
	before := e.keys("")
	e.age(PrefixChunks, 48*time.Hour)
	e.age(PrefixIndexes, 48*time.Hour)
	st := e.run(Options{})
	if st.Swept != 0 {
		t.Errorf("swept %d objects named by a young bundle", st.Swept)
	}
	if st.Prefixes[PrefixBundles].Young != 1 {
		t.Errorf("young bundles %d, want 1", st.Prefixes[PrefixBundles].Young)
	}
	// A young index alone keeps its old chunks.
	e.age(PrefixBundles, 48*time.Hour)
	e.age(PrefixChunks, 48*time.Hour)
	e.age(PrefixIndexes, time.Minute)
	st = e.run(Options{})
	if got := st.Prefixes[PrefixChunks].Trashed; got != 1 {
		// The small file's chunk has no index to keep it: it goes.
		t.Errorf("trashed %d chunks, want 1 (the small file's; the big one's are named by a young index)", got)
	}
	if st.Prefixes[PrefixBundles].Trashed != 1 {
		t.Errorf("the old untagged bundle was not trashed: %+v", st.Prefixes[PrefixBundles])
	}
	_ = before
	_ = root
}

// A candidate touched between the listing and the move stays (its trash
// copy goes), and keeps what it names.
func TestTouchedCandidateKept(t *testing.T) {
	e := newEnv(t)
	e.tree(map[string][]byte{"f": data(100<<10, 6)})
	e.age("", 48*time.Hour)
	idx := e.keys(PrefixIndexes)
	if len(idx) != 1 {
		t.Fatalf("%d indexes", len(idx))
	}
	var touched atomic.Int64
	o := Options{afterList: func(key string) {
		if key == idx[0] {
			touched.Add(1)
			if err := objectstore.Touch(context.Background(), e.m, key); err != nil {
				t.Error(err)
			}
		}
	}}
	st := e.run(o)
	if touched.Load() != 1 || st.Prefixes[PrefixIndexes].Touched != 1 {
		t.Fatalf("touched %d, counted %d", touched.Load(), st.Prefixes[PrefixIndexes].Touched)
	}
	if len(e.keys(PrefixIndexes)) != 1 || len(e.keys(PrefixTrash+PrefixIndexes)) != 0 {
		t.Errorf("the touched index is not kept alone: %v, trash %v", e.keys(PrefixIndexes), e.keys(PrefixTrash+PrefixIndexes))
	}
	if st.Prefixes[PrefixChunks].Trashed != 0 {
		t.Errorf("trashed %d chunks of a touched index", st.Prefixes[PrefixChunks].Trashed)
	}
}

// The race two-phase deletion covers: a writer relies on a candidate
// right after GC's second look (its touch lands before the delete), and
// tags a tree that names it. The object is in trash, not lost: the next
// run finds it live and restores it, and the tree reads back whole.
func TestRaceRestoredFromTrash(t *testing.T) {
	e := newEnv(t)
	f := data(100<<10, 7)
	e.tree(map[string][]byte{"f": f})
	e.age("", 48*time.Hour)
	var later castore.Node
	o := Options{beforeDelete: func(key string) {
		if !strings.HasPrefix(key, PrefixIndexes) || later.Digest != (castore.Digest{}) {
			return
		}
		// A writer imports a tree with the same file now: its dedup hits
		// (and touches) the index GC is about to delete.
		w, err := chunkstore.NewChunked(e.m, chunkstore.ChunkedOptions{AvgChunkSize: 16 << 10})
		if err != nil {
			t.Error(err)
			return
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "g"), f, 0o644)
		later, err = ingest.ImportPath(context.Background(), w, e.dirs, dir, ingest.Options{})
		if err != nil {
			t.Error(err)
			return
		}
		e.tag("late", later, time.Time{})
	}}
	e.run(o)
	if later.Digest == (castore.Digest{}) {
		t.Fatal("the hook never ran")
	}
	st := e.run(Options{})
	if st.Restored == 0 {
		t.Errorf("the next run restored nothing: %+v", st)
	}
	fresh, _ := chunkstore.NewChunked(e.m, chunkstore.ChunkedOptions{})
	if err := readBack(t, fresh, e.dirs, later); err != nil {
		t.Fatalf("the late tag's tree after the next run: %v", err)
	}
}

// A dry run changes nothing and says what a real run then does.
func TestDryRun(t *testing.T) {
	e := newEnv(t)
	e.tag("a", e.tree(map[string][]byte{"a": data(60<<10, 8)}), time.Time{})
	e.tree(map[string][]byte{"b": data(60<<10, 9)})
	e.tag("x", e.tree(map[string][]byte{"x": []byte("x")}), time.Now().Add(-time.Hour))
	e.age("", 48*time.Hour)
	before := e.keys("")
	dry := e.run(Options{DryRun: true})
	if got := e.keys(""); !slices.Equal(got, before) {
		t.Errorf("a dry run changed the store:\n%v\nwas\n%v", got, before)
	}
	if _, err := e.refs.Get(t.Context(), "x"); err != nil {
		t.Errorf("a dry run deleted an expired tag: %v", err)
	}
	real := e.run(Options{})
	if dry.Swept != real.Swept || dry.SweptBytes != real.SweptBytes || dry.Expired != real.Expired {
		t.Errorf("dry run: %d objects, %d bytes, %d tags; the real run: %d, %d, %d", dry.Swept, dry.SweptBytes, dry.Expired, real.Swept, real.SweptBytes, real.Expired)
	}
	for p, ps := range real.Prefixes {
		if dry.Prefixes[p].Trashed != ps.Trashed {
			t.Errorf("%s: dry run %d, real %d", p, dry.Prefixes[p].Trashed, ps.Trashed)
		}
	}
}

// A run stopped midway (its context cancelled after some deletes) and
// run again finishes the job: nothing live lost, nothing dead left.
func TestResumable(t *testing.T) {
	e := newEnv(t)
	keep := e.tree(map[string][]byte{"k": data(120<<10, 10), "s": data(50<<10, 11)})
	e.tag("keep", keep, time.Time{})
	want := withoutTrash(e.keys(""))
	for i := range 5 {
		e.tree(map[string][]byte{"d": data(100<<10, uint64(20+i)), "s": data(50<<10, 11)})
	}
	e.age("", 48*time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	var n atomic.Int64
	_, err := e.tryRun(ctx, Options{Concurrency: 1, beforeDelete: func(string) {
		if n.Add(1) == 4 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the stopped run did not fail")
	}
	if err := readBack(t, e.blobs, e.dirs, keep); err != nil {
		t.Fatalf("after the stopped run: %v", err)
	}
	e.run(Options{})
	e.age(PrefixTrash, 48*time.Hour)
	e.run(Options{})
	got := withoutTrash(e.keys(""))
	got = slices.DeleteFunc(got, func(k string) bool { return k == markKey })
	want = slices.DeleteFunc(want, func(k string) bool { return k == markKey })
	if !slices.Equal(got, want) || len(e.keys(PrefixTrash)) != 0 {
		t.Errorf("after finishing:\n%v\nwant\n%v\ntrash %v", got, want, e.keys(PrefixTrash))
	}
	if err := readBack(t, e.blobs, e.dirs, keep); err != nil {
		t.Fatal(err)
	}
}

// A run that finds no live tag stops before deleting anything, unless
// told that is meant.
func TestNoTagsDeletesNothing(t *testing.T) {
	e := newEnv(t)
	e.tree(map[string][]byte{"a": data(60<<10, 18)})
	e.age("", 48*time.Hour)
	before := e.keys("")
	_, err := Run(t.Context(), e.m, e.refs, e.dirs, Options{Bundles: true, TempDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no live tag") {
		t.Errorf("a run without tags: %v, want a refusal", err)
	}
	if !slices.Equal(e.keys(""), before) {
		t.Error("the refused run changed the store")
	}
	if st := e.run(Options{}); st.Swept == 0 {
		t.Error("with AllowNoTags nothing went")
	}
}

// A live tag whose closure cannot be read stops the run before anything
// is deleted.
func TestIncompleteMarkDeletesNothing(t *testing.T) {
	e := newEnv(t)
	root := e.tree(map[string][]byte{"a": data(60<<10, 12)})
	e.tag("a", root, time.Time{})
	e.tree(map[string][]byte{"dead": data(60<<10, 13)})
	if err := e.m.Delete(t.Context(), dirstore.BundleKey(root.Digest)); err != nil {
		t.Fatal(err)
	}
	e.age("", 48*time.Hour)
	before := e.keys("")
	if _, err := e.tryRun(t.Context(), Options{}); err == nil || !strings.Contains(err.Error(), "nothing deleted") {
		t.Errorf("run with a live root missing: %v, want an error saying nothing was deleted", err)
	}
	if got := e.keys(""); !slices.Equal(withoutTrash(got), before) {
		t.Errorf("the failed run changed the store")
	}
}

// The mark reads through trash: a live index found only in trash is
// read (its chunks stay live) and restored; a live bundle only in trash
// is restored before its closure is walked.
func TestMarkReadsThroughTrash(t *testing.T) {
	e := newEnv(t)
	root := e.tree(map[string][]byte{"big": data(150<<10, 14)})
	e.tag("a", root, time.Time{})
	ctx := t.Context()
	for _, k := range append(e.keys(PrefixIndexes), e.keys(PrefixBundles)...) {
		if err := objectstore.Copy(ctx, e.m, k, PrefixTrash+k); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	e.age("", 48*time.Hour)
	st := e.run(Options{})
	if st.Swept != 0 || st.Restored != 2 {
		t.Errorf("swept %d, restored %d: want 0 and 2 (the index and the bundle)", st.Swept, st.Restored)
	}
	if err := readBack(t, e.blobs, e.dirs, root); err != nil {
		t.Fatal(err)
	}
	if len(e.keys(PrefixTrash)) != 0 {
		t.Errorf("trash left: %v", e.keys(PrefixTrash))
	}
}

// An expired tag set again while the run deletes it is the writer's: the
// conditional delete loses.
func TestExpiredTagSetAgainWins(t *testing.T) {
	e := newEnv(t)
	root := e.tree(map[string][]byte{"a": []byte("a")})
	e.tag("t", root, time.Now().Add(-time.Hour))
	e.refs = &racingRefs{RefService: e.refs, again: castore.Tag{Name: "t", Root: root, Expires: time.Now().Add(time.Hour)}}
	st := e.run(Options{})
	if st.Expired != 1 {
		t.Errorf("expired %d", st.Expired)
	}
	got, err := e.refs.Get(t.Context(), "t")
	if err != nil || got.Expired(time.Now()) {
		t.Errorf("the tag set again: %+v, %v", got, err)
	}
}

// racingRefs sets a tag again just before a Delete of it.
type racingRefs struct {
	castore.RefService
	again castore.Tag
}

func (r *racingRefs) Delete(ctx context.Context, name string, e castore.Expect) error {
	if name == r.again.Name {
		if _, err := r.RefService.Set(ctx, r.again, castore.ExpectAny); err != nil {
			return err
		}
	}
	return r.RefService.Delete(ctx, name, e)
}

// The live sets spill sorted runs to disk past RunSize and stay exact.
func TestDigestSet(t *testing.T) {
	s := newDigestSet(t.TempDir(), 100)
	defer s.Close()
	want := map[castore.Digest]bool{}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var d castore.Digest
		d[0], d[1], d[31] = byte(r.IntN(40)), byte(r.IntN(256)), byte(r.IntN(4))
		want[d] = true
		if err := s.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	if s.Runs() < 10 {
		t.Errorf("%d runs for 5000 digests with RunSize 100", s.Runs())
	}
	var got []castore.Digest
	for d, err := range s.Sorted() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	if len(got) != len(want) || !slices.IsSortedFunc(got, func(a, b castore.Digest) int { return bytes.Compare(a[:], b[:]) }) {
		t.Fatalf("%d digests (sorted: %v), want %d", len(got), slices.IsSortedFunc(got, func(a, b castore.Digest) int { return bytes.Compare(a[:], b[:]) }), len(want))
	}
	m := newMember(s)
	defer m.Close()
	var ask []castore.Digest
	for i := range 512 {
		ask = append(ask, castore.Digest{byte(i / 8), byte(i * 7)})
	}
	for d := range want {
		ask = append(ask, d)
	}
	slices.SortFunc(ask, func(a, b castore.Digest) int { return bytes.Compare(a[:], b[:]) })
	for _, d := range ask {
		ok, err := m.Has(d)
		if err != nil || ok != want[d] {
			t.Errorf("Has(%x) = %v, %v; want %v", d[:2], ok, err, want[d])
		}
	}
}

// With a tiny RunSize (everything spills) a run does the same.
func TestCollectSpilling(t *testing.T) {
	e := newEnv(t)
	a := e.tree(map[string][]byte{"a": data(300<<10, 15), "b": data(40<<10, 16)})
	e.tag("a", a, time.Time{})
	e.tree(map[string][]byte{"dead": data(200<<10, 17)})
	e.age("", 48*time.Hour)
	st := e.run(Options{RunSize: 3})
	if st.SpilledRuns == 0 || st.Swept == 0 {
		t.Errorf("spilled %d runs, swept %d", st.SpilledRuns, st.Swept)
	}
	if err := readBack(t, e.blobs, e.dirs, a); err != nil {
		t.Fatal(err)
	}
}

func TestParseKey(t *testing.T) {
	d := castore.Sum([]byte("x"))
	if got, ok := parseKey(PrefixChunks, chunkfmt.ChunkKey(d)); !ok || got != d {
		t.Errorf("parseKey of a chunk key: %v %v", got, ok)
	}
	for _, k := range []string{"chunks/b3/abcd/abcdx", "chunks/b3/" + d.Hex(), "chunks/b3/0000/" + d.Hex(), "chunks/b3/" + d.Hex()[:4] + "/" + d.Hex() + "0"} {
		if _, ok := parseKey(PrefixChunks, k); ok {
			t.Errorf("parseKey accepted %q", k)
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Directories without times (an embedded store): those not live that name
// a blob no longer stored go, and then their parents; a complete untagged
// directory (young data) and the live ones stay; a dry run only counts.
func TestSweepDirectories(t *testing.T) {
	m := memstore.New()
	blobs, err := chunkstore.NewChunked(m, chunkstore.ChunkedOptions{AvgChunkSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := dirstore.OpenEmbedded(filepath.Join(t.TempDir(), "dirs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dirs.Close()
	refs := refstore.NewMemory()
	imp := func(files map[string][]byte) castore.Node {
		dir := t.TempDir()
		for name, b := range files {
			p := filepath.Join(dir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, b, 0o644)
		}
		root, err := ingest.ImportPath(t.Context(), blobs, dirs, dir, ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	live := imp(map[string][]byte{"a/x": data(40<<10, 30)})
	dead := imp(map[string][]byte{"deep/er/y": data(40<<10, 31)})
	young := imp(map[string][]byte{"z": data(4<<10, 32)}) // one chunk
	if _, err := refs.Set(t.Context(), castore.Tag{Name: "live", Root: live}, castore.ExpectAny); err != nil {
		t.Fatal(err)
	}
	// Old: everything but the young tree's blob.
	yd := chunkfmt.ChunkKey(castore.Sum(data(4<<10, 32)))
	for oi, err := range m.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		if oi.Key != yd {
			m.SetModTime(oi.Key, time.Now().Add(-48*time.Hour))
		}
	}
	count := func() int {
		n := 0
		for range dirs.Digests(t.Context()) {
			n++
		}
		return n
	}
	before := count()
	o := Options{TempDir: t.TempDir(), SweepDirectories: dirs, DryRun: true}
	st, err := Run(t.Context(), m, refs, dirs, o)
	if err != nil {
		t.Fatal(err)
	}
	if st.DirectoriesDeleted != 0 || count() != before {
		t.Errorf("dry run: %d directories counted (a dry run does not estimate them), %d -> %d stored", st.DirectoriesDeleted, before, count())
	}
	o.DryRun = false
	if st, err = Run(t.Context(), m, refs, dirs, o); err != nil {
		t.Fatal(err)
	}
	if st.DirectoriesDeleted != 3 || count() != before-3 {
		t.Errorf("%d directories deleted, %d -> %d stored; want the dead tree's 3", st.DirectoriesDeleted, before, count())
	}
	for _, root := range []castore.Node{live, young} {
		if err := readBack(t, blobs, dirs, root); err != nil {
			t.Errorf("%s: %v", root.Digest, err)
		}
	}
	if _, err := dirs.Get(t.Context(), dead.Digest); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("the dead root: %v", err)
	}
}
