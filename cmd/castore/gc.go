package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/gc"
)

func runGC(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "gc", "",
		"Collect garbage in a chunked store on an object store: delete the chunks,\n"+
			"blob indexes and directory bundles that no unexpired tag reaches, and\n"+
			"expired tags, safely while writers keep writing. Objects younger than\n"+
			"--grace stay; the rest move to trash/ and leave it for good in a later\n"+
			"run once older than --grace, unless a tag reaches them again. Writers\n"+
			"must keep what they rely on fresher than half of --grace (the default\n"+
			"24h matches theirs); run it with the far store's flags (the\n"+
			"--blob-service-addr objectstore+… and --directory-service-addr of serve).\n"+
			"Killed midway, the next run finishes the job.")
	grace := fs.Duration("grace", gc.DefaultGrace, "how old an unreferenced object must be to go (twice the writers' freshen age)")
	dryRun := fs.Bool("dry-run", false, "delete nothing: print what would go, in objects and bytes by prefix")
	asJSON := fs.Bool("json", false, "print the run's statistics as JSON on stdout")
	tempDir := fs.String("temp-dir", "", "directory for the live sets' sorted runs (default the system's)")
	runSize := fs.Int("run-size", gc.DefaultRunSize, "digests a live set holds in memory before it spills a sorted run (32 bytes each)")
	concurrency := fs.Int("concurrency", 16, "object store requests in flight")
	pushURL := fs.String("metrics-push", "", "Prometheus Pushgateway URL to push the run's metrics to (castore_gc_*, castore_objectstore_*), job castore_gc")
	allowNoTags := fs.Bool("allow-no-tags", false, "go on when no live tag is found (then everything older than --grace goes); without it such a run deletes nothing")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("gc takes no arguments")
	}
	if *grace <= 0 {
		return usagef("--grace must be positive")
	}
	if *grace < time.Hour {
		fmt.Fprintf(env.stderr, "castore gc: warning: --grace %s: safe only if every writer freshens what it relies on within %s and finishes within that of its first dedup hit\n", *grace, *grace/2)
	}
	if sf.dataDir != "" && sf.config == "" {
		if fi, err := os.Stat(sf.dataDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("data dir %s: no such directory", sf.dataDir)
		}
	}
	opts, err := sf.readOptions()
	if err != nil {
		return err
	}
	for _, addr := range []string{opts.BlobServiceAddr, opts.DirectoryServiceAddr} {
		if err := localStoreExists(addr); err != nil {
			return err
		}
	}
	metrics, err := startGCMetrics()
	if err != nil {
		return err
	}
	defer metrics.stop()
	t, err := compose.OpenGC(ctx, compose.DefaultRegistry(), opts)
	if err != nil {
		return err
	}
	defer t.Close()

	var last atomic.Pointer[gc.Stats]
	stop := gcProgress(env.stderr, &last)
	o := gc.Options{
		Grace: *grace, DryRun: *dryRun, Bundles: t.Bundles, AllowNoTags: *allowNoTags,
		TempDir: *tempDir, RunSize: *runSize, Concurrency: *concurrency,
		Progress: func(s *gc.Stats) { last.Store(s) },
	}
	if t.Embedded != nil {
		o.SweepDirectories = t.Embedded
	}
	st, err := gc.Run(ctx, t.Store, t.Refs, t.Directories, o)
	stop()
	if st != nil {
		calls := metrics.calls(ctx)
		printGCSummary(env.stderr, st)
		fmt.Fprintf(env.stderr, "gc: object store calls: %s\n", formatCalls(calls))
		if *asJSON {
			out := struct {
				*gc.Stats
				Calls map[string]int64 `json:"object_store_calls"`
			}{st, calls}
			if jerr := json.NewEncoder(env.stdout).Encode(out); jerr != nil && err == nil {
				err = jerr
			}
		}
	}
	if *pushURL != "" {
		if perr := metrics.push(*pushURL); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

// printGCSummary writes what a run did (or, dry, would do), by prefix.
func printGCSummary(w io.Writer, st *gc.Stats) {
	verb, left := "moved to trash", "deleted for good"
	if st.DryRun {
		verb, left = "would move to trash", "would delete for good"
	}
	fmt.Fprintf(w, "gc: mark at %s, grace %s: %d tags (%d expired), %d live directories, %d blobs, %d chunks named by indexes\n",
		st.Mark.UTC().Format(time.RFC3339), st.Grace, st.Tags, st.Expired, st.Directories, st.Blobs, st.Chunks)
	prefixes := make([]string, 0, len(st.Prefixes))
	for p := range st.Prefixes {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		ps := st.Prefixes[p]
		if ps.Objects == 0 && ps.Restored+ps.Emptied+ps.Waiting == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-11s %d objects (%d bytes): %d live, %d young, %s %d (%d bytes), %d touched and kept; trash: %s %d (%d bytes), %d restored, %d waiting\n",
			p, ps.Objects, ps.Bytes, ps.Live, ps.Young, verb, ps.Trashed, ps.TrashedBytes, ps.Touched, left, ps.Emptied, ps.EmptiedBytes, ps.Restored, ps.Waiting)
	}
	fmt.Fprintf(w, "gc: %s %d objects (%d bytes), %s %d (%d bytes), restored %d, in %s\n",
		verb, st.Swept, st.SweptBytes, left, st.Reclaimed, st.ReclaimedBytes, st.Restored, st.Duration.Round(time.Millisecond))
	if st.DirectoriesDeleted > 0 {
		fmt.Fprintf(w, "gc: deleted %d directories of the embedded store that named what is gone\n", st.DirectoriesDeleted)
	}
	if st.CompactedBytes > 0 {
		fmt.Fprintf(w, "gc: compacting the store reclaimed %d bytes\n", st.CompactedBytes)
	}
}

// gcProgress prints the run's phase and counts every second, on a
// terminal; elsewhere nothing.
func gcProgress(w io.Writer, last *atomic.Pointer[gc.Stats]) (stop func()) {
	return statusLine(w, func() string {
		st := last.Load()
		if st == nil {
			return ""
		}
		var listed, trashed int64
		for _, ps := range st.Prefixes {
			listed += ps.Objects
			trashed += ps.Trashed
		}
		return fmt.Sprintf("gc: %s: %d tags, %d marked, %d objects listed, %d to trash", st.Phase, st.Tags, st.Marked, listed, trashed)
	})
}
