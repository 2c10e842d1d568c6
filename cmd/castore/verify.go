package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/ingest"
)

// maxDamageListed bounds the damage a summary lists (all of it is
// printed as found, and counted).
const maxDamageListed = 10000

// verifySummary is what verify found, as --json prints it.
type verifySummary struct {
	compose.VerifyStats
	Damaged  int64            `json:"damaged"`
	Repaired int64            `json:"repaired"`
	Damage   []compose.Damage `json:"damage"`
}

func runVerify(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "verify", "",
		"Read a whole store and check it: every chunk decompresses within bounds to\nthe bytes of its digest, every blob index names chunks stored with the sizes\nit gives, every directory (embedded store) or closure bundle (on an object\nstore) decodes and names subdirectories and blobs that are there with the\nsizes it gives, and every unexpired tag's closure is whole. Damage is printed\nas it is found; the exit code is 1 if any is left. Works on the embedded\ndefault (--data-dir) and on chunked blobs on an object store\n(objectstore+file://, +pack://, +s3://, +gs://) beside an embedded store or\nbundles.")
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
	var from *compose.Services
	if *repairFrom != "" {
		if from, err = compose.Open(ctx, compose.DefaultRegistry(), compose.Options{BlobServiceAddr: *repairFrom, DirectoryServiceAddr: *repairFrom}); err != nil {
			return fmt.Errorf("--repair-from: %w", err)
		}
		defer from.Close()
	}

	var sum verifySummary
	found := func(dm compose.Damage) {
		sum.Damaged++
		if from != nil {
			if err := repair(ctx, from, svcs, dm); err == nil {
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
	var seen atomic.Pointer[compose.VerifyStats]
	stop := verifyProgress(env.stderr, &seen)
	st, err := svcs.Verify(ctx, found, func(s compose.VerifyStats) { seen.Store(&s) })
	stop()
	sum.VerifyStats = st
	if errors.Is(err, compose.ErrNotVerifiable) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if sum.Damage == nil {
			sum.Damage = []compose.Damage{}
		}
		if err := json.NewEncoder(env.stdout).Encode(sum); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.stderr, "verified %d chunks (%d bytes), %d blob indexes, %d directories in %d bundles, %d tags (%d expired): %d damaged, %d repaired\n",
		sum.Chunks, sum.Bytes, sum.Indexes, sum.Directories, sum.Bundles, sum.Tags, sum.Expired, sum.Damaged, sum.Repaired)
	if left := sum.Damaged - sum.Repaired; left > 0 {
		return fmt.Errorf("%d damaged objects", left)
	}
	return nil
}

// repair fetches what damage dm lacks from from: a directory's or bundle's
// closure and blobs, or a tag's, by copying them (ingest.Copy, which looks
// up the blobs of a root the target has and copies those missing); a
// chunk's or index's data, verified, by the chunked store.
func repair(ctx context.Context, from, to *compose.Services, dm compose.Damage) error {
	switch dm.Kind {
	case "directory":
		return repairDirectory(ctx, from, to, dm)
	case "bundle", "tag":
		if dm.Digest == (castore.Digest{}) {
			return errors.New("no digest to fetch")
		}
		n, err := rootNode(ctx, from.Directories, from.Blobs, dm.Digest)
		if err != nil {
			return err
		}
		return ingest.Copy(ctx, from.Blobs, from.Directories, to.Blobs, to.Directories, n, ingest.Options{}, nil)
	}
	return to.RepairChunkData(ctx, dm, from.Blobs)
}

// rootNode is the node of digest d in the repair source: its directory,
// else its blob.
func rootNode(ctx context.Context, dirs castore.DirectoryService, blobs castore.BlobService, d castore.Digest) (castore.Node, error) {
	if dir, err := dirs.Get(ctx, d); err == nil {
		return dir.Node(), nil
	}
	r, err := blobs.Open(ctx, d)
	if err != nil {
		return castore.Node{}, err
	}
	defer r.Close()
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return castore.Node{}, err
	}
	return castore.FileNode(d, uint64(size), false), nil
}

// repairDirectory copies into to what directory dm.Digest lacks, from
// from: its subdirectories' closures and its files' blobs (ingest.Copy of
// the directory, which looks the blobs of a root the target has up and
// copies those missing).
func repairDirectory(ctx context.Context, from, to *compose.Services, dm compose.Damage) error {
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

// verifyProgress prints what was verified so far every second, on a
// terminal; elsewhere nothing.
func verifyProgress(w io.Writer, seen *atomic.Pointer[compose.VerifyStats]) (stop func()) {
	start := time.Now()
	return statusLine(w, func() string {
		s := seen.Load()
		if s == nil {
			return ""
		}
		rate := float64(s.Bytes) / time.Since(start).Seconds()
		return fmt.Sprintf("verified %d chunks (%s, %s/s), %d indexes, %d directories, %d tags",
			s.Chunks, humanize.IBytes(uint64(s.Bytes)), humanize.IBytes(uint64(rate)), s.Indexes, s.Directories, s.Tags)
	})
}
