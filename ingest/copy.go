package ingest

import (
	"context"
	"fmt"
	"maps"
	"slices"
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
// lacks: a blob it has is skipped, and so is the whole closure if it
// already has the root. Blobs are copied in parallel, and the directories
// are put (leaves first, through one putter) only after every blob is
// stored, so the target never holds a root whose data is missing.
func Copy(ctx context.Context, fromBlobs castore.BlobService, fromDirs castore.DirectoryService, toBlobs castore.BlobService, toDirs castore.DirectoryService, n castore.Node, o Options, st *CopyStats) error {
	if st == nil {
		st = &CopyStats{}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.concurrency())
	copyBlob := func(fn castore.Node) {
		g.Go(func() error {
			ok, err := toBlobs.Has(gctx, fn.Digest)
			if err != nil {
				return fmt.Errorf("blob %s: %w", fn.Digest, err)
			}
			if ok {
				st.BlobsSkipped.Add(1)
				o.Progress.add(1, int64(fn.Size))
				return nil
			}
			r, err := fromBlobs.Open(gctx, fn.Digest)
			if err != nil {
				return fmt.Errorf("blob %s: %w", fn.Digest, err)
			}
			defer r.Close()
			w := toBlobs.Create(gctx)
			buf := copyBufs.Get().(*[]byte)
			defer copyBufs.Put(buf)
			nb, err := copyBuffer(counting(w, o.Progress), r, *buf)
			if err != nil {
				return fmt.Errorf("blob %s: %w", fn.Digest, err)
			}
			d, err := w.Close()
			if err != nil {
				return fmt.Errorf("blob %s: %w", fn.Digest, err)
			}
			if d != fn.Digest || uint64(nb) != fn.Size {
				return fmt.Errorf("blob %s: copied %d bytes as %s: %w", fn.Digest, nb, d, castore.ErrCorrupt)
			}
			st.Blobs.Add(1)
			st.Bytes.Add(nb)
			o.Progress.add(1, 0) // its bytes were counted as they were copied
			return nil
		})
	}
	switch n.Type {
	case castore.NodeSymlink:
		return nil
	case castore.NodeFile:
		copyBlob(n)
		return g.Wait()
	}
	if _, err := toDirs.Get(ctx, n.Digest); err == nil {
		st.DirectoriesSkipped++
		// The root is there, so (by the putter's contract) its closure is;
		// its blobs were stored before it was.
		return nil
	}
	all, err := closure.Read(ctx, fromDirs, n.Digest)
	if err != nil {
		return err
	}
	seen := map[castore.Digest]bool{}
	for _, d := range all {
		for _, e := range d.Entries() {
			if e.Node.Type == castore.NodeFile && !seen[e.Node.Digest] {
				seen[e.Node.Digest] = true
				copyBlob(e.Node)
			}
		}
	}
	if err := g.Wait(); err != nil {
		return err
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
