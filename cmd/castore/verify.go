package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// maxDamageListed bounds the damage a summary lists (all of it is
// printed as found, and counted).
const maxDamageListed = 10000

// verifySummary is what verify found, as --json prints it.
type verifySummary struct {
	chunkstore.VerifyStats
	Directories int64               `json:"directories"`
	Damaged     int64               `json:"damaged"`
	Repaired    int64               `json:"repaired"`
	Damage      []chunkstore.Damage `json:"damage"`
}

func runVerify(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "verify", "",
		"Read a whole store and check it: every chunk decompresses within bounds to\nthe bytes of its digest, every blob index names chunks stored with the sizes\nit gives, every directory's subdirectories and blobs are there with the sizes\nit gives. Damage is printed as it is found; the exit code is 1 if any is\nleft. Works on the embedded default (--data-dir) and on chunked blobs on\nan object store (objectstore+file://, +pack://, +s3://, +gs://) beside an\nembedded directory store.")
	asJSON := fs.Bool("json", false, "print a JSON summary on stdout")
	repairFrom := fs.String("repair-from", "", "store URL (grpc+http://…, or any blob service URL that also names directories) to fetch damaged or missing objects from, verified, into this store")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("verify takes no arguments")
	}
	svcs, err := openStoresToRead(ctx, sf)
	if err != nil {
		return err
	}
	defer svcs.Close()
	chunks, ok := svcs.Blobs.(*chunkstore.Chunked)
	if !ok {
		return usagef("verify reads a chunked blob store on an object store (the embedded default, objectstore+…), not %T", svcs.Blobs)
	}
	embedded, _ := svcs.Directories.(*dirstore.Embedded)
	var from *compose.Services
	if *repairFrom != "" {
		if from, err = compose.Open(ctx, compose.DefaultRegistry(), compose.Options{BlobServiceAddr: *repairFrom, DirectoryServiceAddr: *repairFrom}); err != nil {
			return fmt.Errorf("--repair-from: %w", err)
		}
		defer from.Close()
	}

	var sum verifySummary
	found := func(dm chunkstore.Damage) {
		sum.Damaged++
		if from != nil {
			var err error
			if dm.Kind == "directory" {
				err = repairDirectory(ctx, from, svcs, dm)
			} else {
				err = chunks.Repair(ctx, dm, from.Blobs)
			}
			if err == nil {
				dm.Repaired = true
				sum.Repaired++
			} else {
				dm.Problem += "; not repaired: " + err.Error()
			}
		}
		state := "damaged"
		if dm.Repaired {
			state = "repaired"
		}
		fmt.Fprintf(env.stderr, "%s %s %s %s: %s\n", state, dm.Kind, dm.Key, dm.Digest, dm.Problem)
		if len(sum.Damage) < maxDamageListed {
			sum.Damage = append(sum.Damage, dm)
		}
	}
	var seen atomic.Int64
	stop := verifyProgress(env.stderr, &seen)
	st, err := chunks.Verify(ctx, found, func(s chunkstore.VerifyStats) { seen.Store(s.Chunks + s.Indexes) })
	sum.VerifyStats = st
	if err == nil && embedded != nil {
		sum.Directories, err = verifyDirectories(ctx, embedded, chunks, found, &seen)
	}
	stop()
	if err != nil {
		return err
	}
	if *asJSON {
		if sum.Damage == nil {
			sum.Damage = []chunkstore.Damage{}
		}
		if err := json.NewEncoder(env.stdout).Encode(sum); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.stderr, "verified %d chunks (%d bytes), %d blob indexes, %d directories: %d damaged, %d repaired\n",
		sum.Chunks, sum.Bytes, sum.Indexes, sum.Directories, sum.Damaged, sum.Repaired)
	if left := sum.Damaged - sum.Repaired; left > 0 {
		return fmt.Errorf("%d damaged objects", left)
	}
	return nil
}

// verifyDirectories checks every directory of an embedded store: it
// decodes to its digest, its subdirectories are there with the sizes it
// gives, and its files' blobs are in blobs with theirs.
func verifyDirectories(ctx context.Context, dirs *dirstore.Embedded, blobs *chunkstore.Chunked, found func(chunkstore.Damage), seen *atomic.Int64) (int64, error) {
	var n int64
	for d, err := range dirs.Digests(ctx) {
		if err != nil {
			if ctx.Err() != nil {
				return n, err
			}
			found(chunkstore.Damage{Kind: "directory", Problem: err.Error()})
			continue
		}
		n++
		seen.Add(1)
		dir, err := dirs.Get(ctx, d)
		if err != nil {
			found(chunkstore.Damage{Kind: "directory", Digest: d, Problem: err.Error()})
			continue
		}
		var files []castore.Entry
		for _, e := range dir.Entries() {
			switch e.Node.Type {
			case castore.NodeDirectory:
				child, err := dirs.Get(ctx, e.Node.Digest)
				switch {
				case errors.Is(err, castore.ErrNotFound):
					found(chunkstore.Damage{Kind: "directory", Digest: d, Problem: fmt.Sprintf("entry %q names directory %s, which is not stored", e.Name, e.Node.Digest)})
				case err != nil:
					found(chunkstore.Damage{Kind: "directory", Digest: d, Problem: fmt.Sprintf("entry %q: %v", e.Name, err)})
				case child.Size() != e.Node.Size:
					found(chunkstore.Damage{Kind: "directory", Digest: d, Problem: fmt.Sprintf("entry %q gives directory %s size %d, its size is %d", e.Name, e.Node.Digest, e.Node.Size, child.Size())})
				}
			case castore.NodeFile:
				if e.Node.Digest != castore.EmptyDigest {
					files = append(files, e)
				}
			}
		}
		ds := make([]castore.Digest, len(files))
		for i, e := range files {
			ds[i] = e.Node.Digest
		}
		i := 0
		err = blobs.StatBlobs(ctx, ds, func(bd castore.Digest, size uint64, ok bool) error {
			e := files[i]
			i++
			switch {
			case !ok:
				found(chunkstore.Damage{Kind: "directory", Digest: d, Problem: fmt.Sprintf("entry %q names blob %s, which is not stored", e.Name, bd)})
			case size != e.Node.Size:
				found(chunkstore.Damage{Kind: "directory", Digest: d, Problem: fmt.Sprintf("entry %q gives blob %s size %d, it has %d bytes", e.Name, bd, e.Node.Size, size)})
			}
			return nil
		})
		if err != nil {
			found(chunkstore.Damage{Kind: "directory", Digest: d, Problem: "look up its blobs: " + err.Error()})
		}
	}
	return n, nil
}

// repairDirectory copies into to what directory dm.Digest lacks, from
// from: its subdirectories' closures and its files' blobs (ingest.Copy of
// the directory, which looks the blobs of a root the target has up and
// copies those missing).
func repairDirectory(ctx context.Context, from, to *compose.Services, dm chunkstore.Damage) error {
	if dm.Digest == (castore.Digest{}) {
		return errors.New("no digest to fetch")
	}
	dir, err := from.Directories.Get(ctx, dm.Digest)
	if err != nil {
		return err
	}
	for _, e := range dir.Entries() {
		if e.Node.Type != castore.NodeDirectory {
			continue
		}
		if _, err := to.Directories.Get(ctx, e.Node.Digest); err == nil {
			continue
		}
		if err := ingest.Copy(ctx, from.Blobs, from.Directories, to.Blobs, to.Directories, e.Node, ingest.Options{}, nil); err != nil {
			return err
		}
	}
	return ingest.Copy(ctx, from.Blobs, from.Directories, to.Blobs, to.Directories, dir.Node(), ingest.Options{}, nil)
}

// verifyProgress prints the objects verified so far every second, on a
// terminal; elsewhere nothing.
func verifyProgress(w io.Writer, seen *atomic.Int64) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprintf(w, "\r\033[Kverified %d objects", seen.Load())
			}
		}
	}()
	return func() { close(done); <-finished }
}
