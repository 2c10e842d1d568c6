package gc

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/objectstore"
)

// DirectorySweeper is a directory store whose directories have no times
// of their own (dirstore.Embedded, a bbolt file): GC cannot tell a young
// directory from an old one, so it deletes only directories that are not
// live and name what is not stored (a blob or a subdirectory), which no
// tag could be set on anyway (a tag's closure is checked whole), after
// the blobs' sweep and again for their parents, until none is left. The
// store is a file one process holds at a time: no writer adds a directory
// meanwhile.
type DirectorySweeper interface {
	Digests(ctx context.Context) iter.Seq2[castore.Digest, error]
	Delete(ctx context.Context, ds []castore.Digest) error
}

// sweepDirectories deletes, pass after pass, the directories that are not
// live and name a blob or a directory not stored.
func (r *run) sweepDirectories(ctx context.Context, sw DirectorySweeper) error {
	r.phase("sweep directories")
	gone := map[castore.Digest]bool{}
	blobs := map[castore.Digest]bool{} // stored?
	for {
		isLive, closeLive := unionMember([]*digestSet{r.dirSet})
		var dead []castore.Digest
		err := func() error {
			defer closeLive()
			for d, err := range sw.Digests(ctx) {
				if err != nil {
					return fmt.Errorf("gc: list directories: %w", err)
				}
				if gone[d] {
					continue
				}
				l, err := isLive(d)
				if err != nil {
					return err
				}
				if l {
					continue
				}
				broken, err := r.brokenDirectory(ctx, d, gone, blobs)
				if err != nil {
					return err
				}
				if broken {
					dead = append(dead, d)
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
		if len(dead) == 0 {
			return nil
		}
		for _, d := range dead {
			gone[d] = true
		}
		r.count(func(s *Stats) { s.DirectoriesDeleted += int64(len(dead)) })
		if err := sw.Delete(ctx, dead); err != nil {
			return fmt.Errorf("gc: delete directories: %w", err)
		}
	}
}

// brokenDirectory reports whether directory d names a blob not stored, or
// a subdirectory not stored (or gone in this sweep).
func (r *run) brokenDirectory(ctx context.Context, d castore.Digest, gone, blobs map[castore.Digest]bool) (bool, error) {
	dir, err := r.dirs.Get(ctx, d)
	if err != nil {
		return false, fmt.Errorf("gc: directory %s: %w", d, err)
	}
	for _, e := range dir.Entries() {
		switch e.Node.Type {
		case castore.NodeDirectory:
			if gone[e.Node.Digest] {
				return true, nil
			}
			if _, err := r.dirs.Get(ctx, e.Node.Digest); errors.Is(err, castore.ErrNotFound) {
				return true, nil
			} else if err != nil {
				return false, fmt.Errorf("gc: directory %s: %w", e.Node.Digest, err)
			}
		case castore.NodeFile:
			if e.Node.Digest == castore.EmptyDigest {
				continue
			}
			stored, known := blobs[e.Node.Digest]
			if !known {
				var err error
				if stored, err = r.blobStored(ctx, e.Node.Digest); err != nil {
					return false, err
				}
				blobs[e.Node.Digest] = stored
			}
			if !stored {
				return true, nil
			}
		}
	}
	return false, nil
}

// blobStored reports whether blob d has its chunk or its index (trash
// does not count).
func (r *run) blobStored(ctx context.Context, d castore.Digest) (bool, error) {
	for _, key := range []string{chunkfmt.ChunkKey(d), chunkfmt.IndexKey(d), chunkfmt.ChunkLayoutSnix.ChunkKey(d)} {
		_, err := r.store.Head(ctx, key)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, objectstore.ErrNotFound) {
			return false, fmt.Errorf("gc: blob %s: %w", d, err)
		}
	}
	return false, nil
}
