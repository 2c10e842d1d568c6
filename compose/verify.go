package compose

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore"
)

// Damage is one thing Verify found wrong: a chunk, blob index, directory,
// bundle or tag, by key and digest.
type Damage = chunkstore.Damage

// VerifyStats count what Verify read.
type VerifyStats struct {
	chunkstore.VerifyStats
	Directories int64 `json:"directories"`
	Bundles     int64 `json:"bundles"`
	Tags        int64 `json:"tags"`
	// Expired tags are counted, not checked: they keep nothing.
	Expired int64 `json:"expired_tags"`
}

// Objects is how many objects the stats count, for progress.
func (v VerifyStats) Objects() int64 {
	return v.Chunks + v.Indexes + v.Directories + v.Bundles + v.Tags
}

// ErrNotVerifiable is wrapped when Verify cannot read the services'
// blobs object by object: they are not a chunked store on an object store.
var ErrNotVerifiable = errors.New("cannot be verified")

// Verify reads the whole of the services and reports damage as it finds
// it: every chunk decodes to its digest and every blob index names stored
// chunks with its sizes (chunkstore.Verify); every directory (of an
// embedded store) or bundle (of closures on an object store) decodes, and
// names subdirectories and blobs that are stored with the sizes it gives;
// every unexpired tag's closure is whole (closure.CheckRoot). progress, if
// set, gets the running stats. An error is returned only when it cannot go
// on (a listing fails, the context ends).
func (s *Services) Verify(ctx context.Context, found func(Damage), progress func(VerifyStats)) (VerifyStats, error) {
	var st VerifyStats
	chunks, ok := s.Blobs.(*chunkstore.Chunked)
	if !ok {
		return st, fmt.Errorf("the blob service (%T) is not chunked blobs on an object store (the embedded default, objectstore+…): %w", s.Blobs, ErrNotVerifiable)
	}
	report := func() {
		if progress != nil {
			progress(st)
		}
	}
	cs, err := chunks.Verify(ctx, found, func(c chunkstore.VerifyStats) { st.VerifyStats = c; report() })
	st.VerifyStats = cs
	if err != nil {
		return st, err
	}
	switch dirs := s.Directories.(type) {
	case *dirstore.Embedded:
		err = verifyEmbedded(ctx, dirs, chunks, found, func() { st.Directories++; report() })
	case *dirstore.Bundles:
		err = verifyBundles(ctx, dirs, chunks, found, func(n int64) { st.Bundles++; st.Directories += n; report() })
	}
	if err != nil {
		return st, err
	}
	if !s.Has(Refs, DefaultName) {
		return st, nil
	}
	refs, err := s.Refs(ctx)
	if err != nil {
		return st, err
	}
	now := time.Now()
	for t, err := range refs.List(ctx, "") {
		if err != nil {
			return st, fmt.Errorf("list tags: %w", err)
		}
		if t.Expired(now) {
			st.Expired++
			continue
		}
		st.Tags++
		report()
		if err := closure.CheckRoot(ctx, s.Directories, s.Blobs, t.Root); err != nil {
			if ctx.Err() != nil {
				return st, err
			}
			found(Damage{Kind: "tag", Key: t.Name, Digest: t.Root.Digest, Problem: err.Error()})
		}
	}
	return st, nil
}

// RepairChunkData fetches, verified, from from what chunk or index damage
// dm lacks (chunkstore.Chunked.Repair). Directory and tag damage are
// repaired by copying their closures (ingest.Copy), which the caller does.
func (s *Services) RepairChunkData(ctx context.Context, dm Damage, from castore.BlobService) error {
	chunks, ok := s.Blobs.(*chunkstore.Chunked)
	if !ok {
		return fmt.Errorf("the blob service is not chunked: %w", ErrNotVerifiable)
	}
	return chunks.Repair(ctx, dm, from)
}

// checkEntries reports the entries of dir (digest d) whose blobs are
// missing from blobs or have other sizes; subdirectory sizes are checked
// by subdir, which returns a child's size and whether it is stored.
func checkEntries(ctx context.Context, d castore.Digest, dir *castore.Directory, blobs *chunkstore.Chunked, subdir func(castore.Digest) (uint64, bool, error), found func(Damage)) {
	bad := func(format string, args ...any) {
		found(Damage{Kind: "directory", Digest: d, Problem: fmt.Sprintf(format, args...)})
	}
	var files []castore.Entry
	for _, e := range dir.Entries() {
		switch e.Node.Type {
		case castore.NodeDirectory:
			size, ok, err := subdir(e.Node.Digest)
			switch {
			case err != nil:
				bad("entry %q: %v", e.Name, err)
			case !ok:
				bad("entry %q names directory %s, which is not stored", e.Name, e.Node.Digest)
			case size != e.Node.Size:
				bad("entry %q gives directory %s size %d, its size is %d", e.Name, e.Node.Digest, e.Node.Size, size)
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
	err := blobs.StatBlobs(ctx, ds, func(bd castore.Digest, size uint64, ok bool) error {
		e := files[i]
		i++
		switch {
		case !ok:
			bad("entry %q names blob %s, which is not stored", e.Name, bd)
		case size != e.Node.Size:
			bad("entry %q gives blob %s size %d, it has %d bytes", e.Name, bd, e.Node.Size, size)
		}
		return nil
	})
	if err != nil {
		bad("look up its blobs: %v", err)
	}
}

// verifyEmbedded checks every directory of an embedded store: it decodes
// to its digest, its subdirectories are there with the sizes it gives,
// and its files' blobs are in blobs with theirs.
func verifyEmbedded(ctx context.Context, dirs *dirstore.Embedded, blobs *chunkstore.Chunked, found func(Damage), counted func()) error {
	subdir := func(d castore.Digest) (uint64, bool, error) {
		child, err := dirs.Get(ctx, d)
		if errors.Is(err, castore.ErrNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		return child.Size(), true, nil
	}
	for d, err := range dirs.Digests(ctx) {
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			found(Damage{Kind: "directory", Problem: err.Error()})
			continue
		}
		counted()
		dir, err := dirs.Get(ctx, d)
		if err != nil {
			found(Damage{Kind: "directory", Digest: d, Problem: err.Error()})
			continue
		}
		checkEntries(ctx, d, dir, blobs, subdir, found)
	}
	return nil
}

// verifyBundles checks every closure bundle on an object store: it
// decodes whole (dirstore.ReadBundle checks every frame's digest and that
// no directory is missing), each directory's subdirectories have the
// sizes it gives, and its files' blobs are in blobs with theirs.
func verifyBundles(ctx context.Context, b *dirstore.Bundles, blobs *chunkstore.Chunked, found func(Damage), counted func(dirs int64)) error {
	for root, err := range b.Roots(ctx) {
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			found(Damage{Kind: "bundle", Problem: err.Error()})
			continue
		}
		key := dirstore.BundleKey(root)
		sizes := map[castore.Digest]uint64{}
		var dirs []*castore.Directory
		var berr error
		for dir, err := range b.GetRecursive(ctx, root) {
			if err != nil {
				berr = err
				break
			}
			sizes[dir.Digest()] = dir.Size()
			dirs = append(dirs, dir)
		}
		counted(int64(len(dirs)))
		if berr != nil {
			if ctx.Err() != nil {
				return berr
			}
			found(Damage{Kind: "bundle", Key: key, Digest: root, Problem: berr.Error()})
			continue
		}
		if len(dirs) == 0 {
			found(Damage{Kind: "bundle", Key: key, Digest: root, Problem: "the bundle holds no directory"})
			continue
		}
		subdir := func(d castore.Digest) (uint64, bool, error) {
			size, ok := sizes[d]
			return size, ok, nil
		}
		for _, dir := range dirs {
			checkEntries(ctx, dir.Digest(), dir, blobs, subdir, func(dm Damage) {
				dm.Kind, dm.Key, dm.Problem = "bundle", key, fmt.Sprintf("directory %s: %s", dm.Digest, dm.Problem)
				dm.Digest = root
				found(dm)
			})
		}
	}
	return nil
}
