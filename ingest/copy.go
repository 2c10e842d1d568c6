package ingest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

// CopyStats says what a Copy sent.
type CopyStats struct {
	Blobs, BlobsSkipped             atomic.Int64
	Directories, DirectoriesSkipped int64
	Bytes                           atomic.Int64
}

// Copy copies the tree of n, its directories and the blobs of its files,
// from one pair of services to another, sending only what the target
// lacks: a blob it has is skipped, and so are the directories if it
// already has the root. Blobs are copied in parallel, and the directories
// are put (leaves first, through one putter) only after every blob is
// stored, so the target never holds a root whose data is missing.
//
// A root the target has already is not taken on trust: its blobs are
// looked up all the same (a store written before servers checked
// closures, or by one that does not, may hold a root without them), and
// those missing are copied, so copying again heals such a store.
func Copy(ctx context.Context, fromBlobs castore.BlobService, fromDirs castore.DirectoryService, toBlobs castore.BlobService, toDirs castore.DirectoryService, n castore.Node, o Options, st *CopyStats) error {
	if st == nil {
		st = &CopyStats{}
	}
	var all map[castore.Digest]*castore.Directory
	var files []fileRef
	haveRoot := false
	switch n.Type {
	case castore.NodeSymlink:
		return nil
	case castore.NodeFile:
		files = []fileRef{{node: n}}
		o.Progress.setTotal(1, int64(n.Size))
	default:
		if _, err := toDirs.Get(ctx, n.Digest); err == nil {
			// The root is there, so (by the putter's contract) its
			// closure is; its blobs may not be.
			haveRoot = true
		}
		var err error
		if all, err = closure.Read(ctx, fromDirs, n.Digest); err != nil {
			return err
		}
		files = uniqueFiles(n.Digest, all)
		var size int64
		for _, f := range files {
			size += int64(f.node.Size)
		}
		o.Progress.setTotal(int64(len(files)), size)
	}
	if err := copyBlobs(ctx, fromBlobs, toBlobs, files, o, st); err != nil {
		return err
	}
	if n.Type == castore.NodeFile {
		return nil
	}
	if haveRoot {
		st.DirectoriesSkipped += int64(len(all))
		return nil
	}
	p := toDirs.NewPutter(ctx)
	for _, dir := range closure.LeavesFirst(n.Digest, slices.Collect(maps.Values(all))) {
		st.Directories++
		if err := p.Put(dir); err != nil {
			return fmt.Errorf("put directories: %w", err)
		}
	}
	root, err := p.Close()
	if err != nil {
		return fmt.Errorf("put directories: %w", err)
	}
	if root != n.Digest {
		return fmt.Errorf("put directories: target answered root %s, want %s", root, n.Digest)
	}
	return nil
}

// uniqueFiles returns one file of each distinct file node below root, with
// the first path (depth first, in name order) that names it, so errors
// about a blob can say where in the tree it is.
func uniqueFiles(root castore.Digest, all map[castore.Digest]*castore.Directory) []fileRef {
	var files []fileRef
	seenFile := map[castore.Digest]bool{}
	seenDir := map[castore.Digest]bool{}
	var walk func(d castore.Digest, at string)
	walk = func(d castore.Digest, at string) {
		dir := all[d]
		if dir == nil || seenDir[d] {
			return
		}
		seenDir[d] = true
		for _, e := range dir.Entries() {
			p := string(e.Name)
			if at != "" {
				p = at + "/" + p
			}
			switch e.Node.Type {
			case castore.NodeFile:
				if !seenFile[e.Node.Digest] {
					seenFile[e.Node.Digest] = true
					files = append(files, fileRef{path: p, node: e.Node})
				}
			case castore.NodeDirectory:
				walk(e.Node.Digest, p)
			}
		}
	}
	walk(root, "")
	return files
}

// what names a file in errors: its path and blob, or the blob alone.
func (f fileRef) what() string {
	if f.path == "" {
		return "blob " + f.node.Digest.String()
	}
	return fmt.Sprintf("%s (blob %s)", f.path, f.node.Digest)
}

// copyBlobs copies the blobs of files that toBlobs lacks: first it asks
// toBlobs about them, in batches where it can (castore.MissingFinder),
// else about each, in parallel; then it copies the missing ones, the
// small ones read ahead from fromBlobs in batches where it can.
func copyBlobs(ctx context.Context, fromBlobs, toBlobs castore.BlobService, files []fileRef, o Options, st *CopyStats) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.concurrency())
	var mu sync.Mutex
	var missing []fileRef
	nodes := make([]castore.Node, len(files))
	for i, f := range files {
		nodes[i] = f.node
	}
	lacks, batched, err := missingOf(ctx, toBlobs, nodes)
	if err != nil {
		return err
	}
	for _, f := range files {
		fn := f.node
		if batched {
			if lacks[fn.Digest] {
				missing = append(missing, f)
			} else {
				st.BlobsSkipped.Add(1)
				o.Progress.add(1, int64(fn.Size))
			}
			continue
		}
		g.Go(func() error {
			ok, err := toBlobs.Has(gctx, fn.Digest)
			if err != nil {
				return fmt.Errorf("%s: %w", f.what(), err)
			}
			if ok {
				st.BlobsSkipped.Add(1)
				o.Progress.add(1, int64(fn.Size))
				return nil
			}
			mu.Lock()
			missing = append(missing, f)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(o.concurrency())
	rerr := newReadAhead(gctx, fromBlobs, missing).each(gctx, func(f fileRef, data []byte) error {
		g.Go(func() error { return copyOne(gctx, fromBlobs, toBlobs, f, data, o, st) })
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return rerr
}

// copyOne stores the blob of file f in toBlobs: data if it is not
// nil (read and verified already), else read from fromBlobs.
func copyOne(ctx context.Context, fromBlobs, toBlobs castore.BlobService, f fileRef, data []byte, o Options, st *CopyStats) error {
	fn := f.node
	w := create(ctx, toBlobs)
	if err := writeBlob(ctx, fromBlobs, counting(w, o.Progress), fn, data, nil); err != nil {
		return fmt.Errorf("%s: %w", f.what(), err)
	}
	d, err := w.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", f.what(), err)
	}
	if d != fn.Digest {
		return fmt.Errorf("%s: copied as %s: %w", f.what(), d, castore.ErrCorrupt)
	}
	st.Blobs.Add(1)
	st.Bytes.Add(int64(fn.Size))
	o.Progress.add(1, 0) // its bytes were counted as they were copied
	return nil
}
