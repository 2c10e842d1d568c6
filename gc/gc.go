package gc

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// DefaultGrace is how old an unreferenced object must be before a run
// moves it to trash, and a trash entry before a run deletes it for good.
const DefaultGrace = 24 * time.Hour

// The prefixes a run reads and writes.
const (
	PrefixBundles    = "dirs/b3/"
	PrefixIndexes    = "blobs/b3/"
	PrefixChunks     = "chunks/b3/"
	PrefixChunksSnix = "chunk/b3/"
	PrefixTrash      = "trash/"
	markKey          = "gc/mark"
)

// timeSlack covers object times kept in whole seconds (S3): a time read
// may be up to this much earlier than the write.
const timeSlack = time.Second

// Options tune a run. The zero value is a real run with the default grace.
type Options struct {
	// Grace: objects younger than this are never deleted (default 24 h).
	// Writers must freshen what they rely on once it is older than half of
	// it (chunkstore.ChunkedOptions.FreshenAge).
	Grace time.Duration
	// DryRun deletes, moves and restores nothing: the Stats say what a
	// run would do.
	DryRun bool
	// SweepDirectories, if set, is a directory store without times
	// (dirstore.Embedded) whose directories that are not live and name
	// what is no longer stored are deleted after the blobs' sweep
	// (directories.go).
	SweepDirectories DirectorySweeper
	// AllowNoTags lets a run with no live tag go on: then every object
	// not young goes. Without it such a run stops before deleting
	// anything (a ref service misconfigured would otherwise empty the
	// store).
	AllowNoTags bool
	// Bundles: directories are closure bundles in this store (dirs/b3/),
	// swept as level 1. Without it dirs/ is left alone and directories
	// are only read, through Directories.
	Bundles bool
	// TempDir holds the live sets' runs (default os.TempDir()).
	TempDir string
	// RunSize bounds the digests each live set keeps in memory (default
	// DefaultRunSize).
	RunSize int
	// Concurrency bounds the requests in flight (default 16).
	Concurrency int
	// Progress, if set, is called with the stats so far after each
	// object.
	Progress func(*Stats)
	// Logger gets a line per restore and per touched candidate (default
	// slog.Default()).
	Logger *slog.Logger

	// afterList and beforeDelete, a test's hooks, run before a
	// candidate's move to trash, and between its second look and its
	// delete.
	afterList, beforeDelete func(key string)
}

// PrefixStats counts what a run found and did under one prefix.
type PrefixStats struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Live    int64 `json:"live"`
	// Young objects are not live but too young to go; they and what they
	// name stay.
	Young int64 `json:"young"`
	// Trashed were moved to trash (in a dry run: would be).
	Trashed      int64 `json:"trashed"`
	TrashedBytes int64 `json:"trashed_bytes"`
	// Touched were candidates whose time moved before their delete: kept.
	Touched int64 `json:"touched"`
	// Restored came back from trash, found live.
	Restored int64 `json:"restored"`
	// Emptied were deleted from trash for good, and their bytes reclaimed.
	Emptied      int64 `json:"emptied"`
	EmptiedBytes int64 `json:"emptied_bytes"`
	// Waiting are trash entries not live and not old enough to go.
	Waiting int64 `json:"waiting"`
}

// Stats describe a run.
type Stats struct {
	DryRun bool          `json:"dry_run"`
	Grace  time.Duration `json:"grace_ns"`
	// Mark is the start of the mark, in the store's clock.
	Mark time.Time `json:"mark"`
	// Tags is how many tags were listed; Expired how many of them had
	// expired (and were deleted, unless a dry run).
	Tags    int64 `json:"tags"`
	Expired int64 `json:"expired_tags"`
	// Marked counts the digests found live: directories, blobs, chunks
	// named by indexes.
	Directories int64 `json:"live_directories"`
	Blobs       int64 `json:"live_blobs"`
	Chunks      int64 `json:"live_chunks"`
	Marked      int64 `json:"marked"`
	// Swept is the objects moved to trash, SweptBytes their bytes;
	// Reclaimed and ReclaimedBytes what left trash for good.
	Swept          int64 `json:"swept"`
	SweptBytes     int64 `json:"swept_bytes"`
	Reclaimed      int64 `json:"reclaimed"`
	ReclaimedBytes int64 `json:"reclaimed_bytes"`
	Restored       int64 `json:"restored"`
	// Prefixes has the counts by prefix (the data prefixes, and trash/
	// entries under the prefix of what they hold).
	Prefixes map[string]*PrefixStats `json:"prefixes"`
	// Phase is what the run is doing: "tags", "mark", "sweep dirs/b3/", ...
	Phase    string        `json:"-"`
	Duration time.Duration `json:"duration_ns"`
	// MarkDuration is the time of the mark: the tags, the closures and the
	// live blobs' indexes (the sweeps are the rest of Duration).
	MarkDuration time.Duration `json:"mark_ns"`
	// DirectoriesDeleted counts the directories SweepDirectories lost (a
	// dry run, which deletes no blob, does not estimate them).
	DirectoriesDeleted int64 `json:"directories_deleted"`
	// CompactedBytes is what a compaction of the store reclaimed after the
	// sweep (a pack store's deletes leave their bytes until one).
	CompactedBytes int64 `json:"compacted_bytes"`
	// SpilledRuns is how many sorted runs the live sets wrote to disk.
	SpilledRuns int `json:"spilled_runs"`
}

// run is one collection.
type run struct {
	store objectstore.Store
	refs  castore.RefService
	dirs  castore.DirectoryService
	o     Options
	log   *slog.Logger

	mu    sync.Mutex
	stats Stats

	dirSet, blobSet, chunkSet *digestSet
	cutoff                    time.Time // objects older than this may go
}

// Run collects garbage in store: the chunked store's chunks and blob
// indexes, and, with Options.Bundles, its directory bundles, keeping what
// the unexpired tags in refs reach (walked through dirs). See the package
// documentation for how it stays safe against writers.
func Run(ctx context.Context, store objectstore.Store, refs castore.RefService, dirs castore.DirectoryService, o Options) (*Stats, error) {
	began := time.Now()
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &run{store: store, refs: refs, dirs: dirs, o: o, log: o.Logger}
	r.stats = Stats{DryRun: o.DryRun, Grace: o.Grace, Prefixes: map[string]*PrefixStats{}}
	for _, p := range []string{PrefixBundles, PrefixIndexes, PrefixChunks, PrefixChunksSnix} {
		r.stats.Prefixes[p] = &PrefixStats{}
	}
	tmp, err := os.MkdirTemp(o.TempDir, "castore-gc-")
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	defer os.RemoveAll(tmp)
	r.dirSet = newDigestSet(tmp, o.RunSize)
	r.blobSet = newDigestSet(tmp, o.RunSize)
	r.chunkSet = newDigestSet(tmp, o.RunSize)
	err = r.collect(ctx)
	runs := r.dirSet.Runs() + r.blobSet.Runs() + r.chunkSet.Runs()
	r.mu.Lock()
	r.stats.SpilledRuns = runs
	r.stats.Duration = time.Since(began)
	r.mu.Unlock()
	st := r.snapshot()
	recordMetrics(ctx, &st, err)
	return &st, err
}

func (r *run) collect(ctx context.Context) error {
	// 1. The start of the mark, in the store's clock.
	if !objectstoreCanTouch(ctx, r.store) && !r.o.DryRun {
		return errors.New("gc: the object store cannot touch objects (objectstore.Toucher), so writers cannot keep what they rely on fresh: refusing to delete")
	}
	if err := r.store.Put(ctx, markKey, strings.NewReader(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("gc: write the mark: %w", err)
	}
	oi, err := r.store.Head(ctx, markKey)
	if err != nil {
		return fmt.Errorf("gc: read the mark: %w", err)
	}
	if oi.ModTime.IsZero() {
		return errors.New("gc: the object store gives no modification times")
	}
	r.stats.Mark = oi.ModTime
	r.cutoff = oi.ModTime.Add(-r.o.Grace).Add(-timeSlack)

	// 2, 3. Tags, then the mark.
	markBegan := time.Now()
	r.phase("tags")
	roots, err := r.tags(ctx)
	if err != nil {
		return err
	}
	if len(roots) == 0 && !r.o.AllowNoTags {
		return fmt.Errorf("gc: no live tag (of %d listed): every object would go; nothing deleted (allow it with AllowNoTags, castore gc --allow-no-tags)", r.stats.Tags)
	}
	r.phase("mark")
	if err := r.mark(ctx, roots); err != nil {
		return err
	}
	markTime := time.Since(markBegan)

	// 4, 5. The levels, each swept with its trash.
	if r.o.Bundles {
		if err := r.sweep(ctx, PrefixBundles, r.survivingBundle, r.dirSet); err != nil {
			return err
		}
	}
	r.phase("indexes")
	indexesBegan := time.Now()
	if err := r.readIndexes(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	r.stats.MarkDuration = markTime + time.Since(indexesBegan)
	r.mu.Unlock()
	if err := r.sweep(ctx, PrefixIndexes, r.survivingIndex, r.blobSet); err != nil {
		return err
	}
	for _, p := range []string{PrefixChunks, PrefixChunksSnix} {
		if err := r.sweep(ctx, p, nil, r.blobSet, r.chunkSet); err != nil {
			return err
		}
	}
	if r.o.SweepDirectories != nil && !r.o.DryRun {
		if err := r.sweepDirectories(ctx, r.o.SweepDirectories); err != nil {
			return err
		}
	}
	if !r.o.DryRun {
		r.phase("compact")
		n, err := objectstore.Compact(ctx, r.store)
		if err != nil && !errors.Is(err, castore.ErrUnsupported) {
			return fmt.Errorf("gc: compact the store: %w", err)
		}
		r.count(func(s *Stats) { s.CompactedBytes = n })
	}
	r.phase("done")
	return nil
}

// objectstoreCanTouch asks the store to touch the mark (a missing key:
// ErrNotFound means it can).
func objectstoreCanTouch(ctx context.Context, s objectstore.Store) bool {
	err := objectstore.Touch(ctx, s, markKey+"-probe")
	return err == nil || errors.Is(err, objectstore.ErrNotFound)
}

func (r *run) phase(p string) {
	r.mu.Lock()
	r.stats.Phase = p
	r.mu.Unlock()
	r.progress()
}

func (r *run) progress() {
	if r.o.Progress == nil {
		return
	}
	st := r.snapshot()
	r.o.Progress(&st)
}

// snapshot copies the stats, prefixes too.
func (r *run) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	st.Prefixes = make(map[string]*PrefixStats, len(r.stats.Prefixes))
	for p, ps := range r.stats.Prefixes {
		c := *ps
		st.Prefixes[p] = &c
	}
	return st
}

// count updates the stats under the lock.
func (r *run) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
	r.progress()
}

// tags lists every tag, deletes the expired ones (conditionally on them
// being as read) and returns the live roots, each once.
func (r *run) tags(ctx context.Context) ([]castore.Node, error) {
	var roots []castore.Node
	seen := map[castore.Digest]bool{}
	var expired []castore.Tag
	for t, err := range r.refs.List(ctx, "") {
		if err != nil {
			return nil, fmt.Errorf("gc: list tags: %w", err)
		}
		r.count(func(s *Stats) { s.Tags++ })
		if t.Expired(r.stats.Mark) {
			expired = append(expired, t)
			continue
		}
		if !seen[t.Root.Digest] {
			seen[t.Root.Digest] = true
			roots = append(roots, t.Root)
		}
	}
	for _, t := range expired {
		r.count(func(s *Stats) { s.Expired++ })
		if r.o.DryRun {
			continue
		}
		err := r.refs.Delete(ctx, t.Name, castore.ExpectTag(t))
		switch {
		case err == nil, errors.Is(err, castore.ErrNotFound):
		case errors.Is(err, castore.ErrConflict):
			// Set again meanwhile: no longer ours to delete. Its root was
			// not marked, but the writer that set it keeps what it relies
			// on fresh (package doc).
			r.log.Info("gc: expired tag set again meanwhile; kept", "tag", t.Name)
		default:
			return nil, fmt.Errorf("gc: delete expired tag %q: %w", t.Name, err)
		}
	}
	return roots, nil
}

// mark adds each root's closure to the live sets.
func (r *run) mark(ctx context.Context, roots []castore.Node) error {
	for _, root := range roots {
		switch root.Type {
		case castore.NodeFile:
			if err := r.addBlob(root.Digest); err != nil {
				return err
			}
		case castore.NodeDirectory:
			if err := r.markDirectory(ctx, root.Digest, true); err != nil {
				return err
			}
		}
	}
	r.mu.Lock()
	r.stats.Marked = r.stats.Directories + r.stats.Blobs
	r.mu.Unlock()
	return nil
}

func (r *run) addBlob(d castore.Digest) error {
	if d == castore.EmptyDigest {
		return nil
	}
	r.count(func(s *Stats) { s.Blobs++ })
	return r.blobSet.Add(d)
}

// markDirectory adds the closure of root: to the directory set if live,
// and its blobs to the blob set. A live root whose bundle is only in
// trash is restored first.
func (r *run) markDirectory(ctx context.Context, root castore.Digest, live bool) error {
	if live && r.o.Bundles {
		if err := r.ensureBundle(ctx, root); err != nil {
			return err
		}
	}
	n := 0
	for dir, err := range r.dirs.GetRecursive(ctx, root) {
		if err != nil {
			return fmt.Errorf("gc: read the closure of %s: %w (nothing deleted)", root, err)
		}
		n++
		if live {
			r.count(func(s *Stats) { s.Directories++ })
			if err := r.dirSet.Add(dir.Digest()); err != nil {
				return err
			}
		}
		for _, e := range dir.Entries() {
			if e.Node.Type == castore.NodeFile {
				if err := r.addBlob(e.Node.Digest); err != nil {
					return err
				}
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("gc: directory %s: %w (nothing deleted)", root, castore.ErrNotFound)
	}
	return nil
}

// ensureBundle restores root's bundle from trash if it is only there; a
// bundle in neither place stops the run.
func (r *run) ensureBundle(ctx context.Context, root castore.Digest) error {
	key := PrefixBundles + shard(root)
	_, err := r.store.Head(ctx, key)
	if err == nil {
		return nil
	}
	if !errors.Is(err, objectstore.ErrNotFound) {
		return fmt.Errorf("gc: %w", err)
	}
	if _, terr := r.store.Head(ctx, PrefixTrash+key); terr != nil {
		if errors.Is(terr, objectstore.ErrNotFound) {
			return fmt.Errorf("gc: a live tag names directory %s, whose bundle %s is not stored: %w (nothing deleted)", root, key, castore.ErrNotFound)
		}
		return fmt.Errorf("gc: %w", terr)
	}
	if r.o.DryRun {
		return fmt.Errorf("gc: a live tag names directory %s, whose bundle is in trash; a run that is not dry restores it", root)
	}
	return r.restore(ctx, PrefixBundles, key)
}

// readIndexes reads the index of every blob in the blob set (from trash
// if only there) into the chunk set.
func (r *run) readIndexes(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.Concurrency)
	for d, err := range r.blobSet.Sorted() {
		if err != nil {
			return err
		}
		g.Go(func() error { return r.readIndex(gctx, d, true) })
	}
	return g.Wait()
}

// readIndex adds blob d's chunks to the chunk set; a blob without an
// index (one chunk) adds nothing. fromTrash reads a trashed index too.
func (r *run) readIndex(ctx context.Context, d castore.Digest, fromTrash bool) error {
	key := chunkfmt.IndexKey(d)
	b, err := r.get(ctx, key)
	if errors.Is(err, objectstore.ErrNotFound) && fromTrash {
		b, err = r.get(ctx, PrefixTrash+key)
	}
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gc: read index of blob %s: %w (nothing more deleted)", d, err)
	}
	chunks, err := chunkfmt.DecodeIndex(b)
	if err != nil {
		return fmt.Errorf("gc: index of blob %s: %w (nothing more deleted)", d, err)
	}
	for _, c := range chunks {
		r.count(func(s *Stats) { s.Chunks++; s.Marked++ })
		if err := r.chunkSet.Add(c.Digest); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) get(ctx context.Context, key string) ([]byte, error) {
	rc, err := r.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// survivingBundle adds what a bundle that stays names: its blobs.
func (r *run) survivingBundle(ctx context.Context, d castore.Digest) error {
	return r.markDirectory(ctx, d, false)
}

// survivingIndex adds what an index that stays names: its chunks.
func (r *run) survivingIndex(ctx context.Context, d castore.Digest) error {
	return r.readIndex(ctx, d, false)
}

// shard is the key of d below a prefix: <hex[0:4]>/<hex>.
func shard(d castore.Digest) string {
	h := d.Hex()
	return h[:4] + "/" + h
}

// parseKey returns the digest of a key below prefix, if it is one.
func parseKey(prefix, key string) (castore.Digest, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || len(rest) != 4+1+64 || rest[4] != '/' || rest[:4] != rest[5:9] {
		return castore.Digest{}, false
	}
	var d castore.Digest
	if _, err := hex.Decode(d[:], []byte(rest[5:])); err != nil || len(rest[5:]) != 2*len(d) {
		return castore.Digest{}, false
	}
	return d, true
}
