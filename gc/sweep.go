package gc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
)

// sweep sweeps one level: the objects under prefix, then the trash
// entries of that prefix, each merged in key (and so digest) order with
// the union of the live sets. survive, if set, is called for every object
// that stays without being live, to add what it names to the next
// level's live set.
func (r *run) sweep(ctx context.Context, prefix string, survive func(context.Context, castore.Digest) error, live ...*digestSet) error {
	r.phase("sweep " + prefix)
	ps := r.stats.Prefixes[prefix]
	isLive, closeLive := unionMember(live)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.Concurrency)
	// Survivors are read in a group of their own: a move to trash that
	// finds its candidate touched adds one, and must not wait for a slot
	// of the group it holds one of.
	sg, sctx := errgroup.WithContext(ctx)
	sg.SetLimit(r.o.Concurrency)
	later := func(d castore.Digest) {
		if survive != nil {
			sg.Go(func() error { return survive(sctx, d) })
		}
	}
	err := func() error {
		defer closeLive()
		for oi, err := range r.store.List(gctx, prefix) {
			if err != nil {
				return fmt.Errorf("gc: list %s: %w", prefix, err)
			}
			d, ok := parseKey(prefix, oi.Key)
			if !ok {
				continue // not an object of ours
			}
			r.count(func(*Stats) { ps.Objects++; ps.Bytes += oi.Size })
			l, err := isLive(d)
			if err != nil {
				return err
			}
			switch {
			case l:
				r.count(func(*Stats) { ps.Live++ })
			case !oi.ModTime.Before(r.cutoff):
				r.count(func(*Stats) { ps.Young++ })
				later(d)
			case r.o.DryRun:
				r.count(func(s *Stats) { ps.Trashed++; ps.TrashedBytes += oi.Size; s.Swept++; s.SweptBytes += oi.Size })
			default:
				g.Go(func() error {
					kept, err := r.trash(gctx, oi)
					if err != nil {
						return err
					}
					if kept {
						r.count(func(*Stats) { ps.Touched++ })
						later(d)
						return nil
					}
					r.count(func(s *Stats) { ps.Trashed++; ps.TrashedBytes += oi.Size; s.Swept++; s.SweptBytes += oi.Size })
					return nil
				})
			}
		}
		return nil
	}()
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if werr := sg.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	return r.sweepTrash(ctx, prefix, live)
}

// emptyBatch is how many dead trash entries go in one DeleteBatch.
const emptyBatch = 1000

// sweepTrash restores the live trash entries of prefix and deletes for
// good the dead ones older than the cutoff, in batches.
func (r *run) sweepTrash(ctx context.Context, prefix string, live []*digestSet) error {
	ps := r.stats.Prefixes[prefix]
	isLive, closeLive := unionMember(live)
	defer closeLive()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.Concurrency)
	// Dead trash entries go in batches (one request for 1,000 on S3).
	var batch []objectstore.ObjectInfo
	flush := func() {
		if len(batch) == 0 {
			return
		}
		b := batch
		batch = nil
		g.Go(func() error {
			keys := make([]string, len(b))
			for i, oi := range b {
				keys[i] = oi.Key
			}
			if err := objectstore.DeleteBatch(gctx, r.store, keys); err != nil {
				return fmt.Errorf("gc: empty trash: %w", err)
			}
			r.count(func(s *Stats) {
				for _, oi := range b {
					ps.Emptied++
					ps.EmptiedBytes += oi.Size
					s.Reclaimed++
					s.ReclaimedBytes += oi.Size
				}
			})
			return nil
		})
	}
	err := func() error {
		for oi, err := range r.store.List(gctx, PrefixTrash+prefix) {
			if err != nil {
				return fmt.Errorf("gc: list %s: %w", PrefixTrash+prefix, err)
			}
			key := strings.TrimPrefix(oi.Key, PrefixTrash)
			d, ok := parseKey(prefix, key)
			if !ok {
				continue
			}
			l, err := isLive(d)
			if err != nil {
				return err
			}
			switch {
			case l:
				if r.o.DryRun {
					r.count(func(s *Stats) { ps.Restored++; s.Restored++ })
					continue
				}
				g.Go(func() error { return r.restore(gctx, prefix, key) })
			case !oi.ModTime.Before(r.cutoff):
				r.count(func(*Stats) { ps.Waiting++ })
			case r.o.DryRun:
				r.count(func(s *Stats) { ps.Emptied++; ps.EmptiedBytes += oi.Size; s.Reclaimed++; s.ReclaimedBytes += oi.Size })
			default:
				batch = append(batch, oi)
				if len(batch) == emptyBatch {
					flush()
				}
			}
		}
		flush()
		return nil
	}()
	if werr := g.Wait(); err == nil {
		err = werr
	}
	return err
}

// trash moves a candidate to trash: a copy, a second look at its time,
// and a delete. kept reports that it is young now, or changed size (a
// writer touched or rewrote it since the listing): it stays, and its trash
// copy goes.
func (r *run) trash(ctx context.Context, listed objectstore.ObjectInfo) (kept bool, err error) {
	key, tkey := listed.Key, PrefixTrash+listed.Key
	if r.o.afterList != nil {
		r.o.afterList(key)
	}
	if err := objectstore.Copy(ctx, r.store, key, tkey); err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return false, nil // gone meanwhile
		}
		return false, fmt.Errorf("gc: move %s to trash: %w", key, err)
	}
	now, err := r.store.Head(ctx, key)
	switch {
	case errors.Is(err, objectstore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("gc: move %s to trash: %w", key, err)
	case !now.ModTime.Before(r.cutoff) || now.Size != listed.Size:
		// Young now (a Head and a listing may give the time at different
		// precisions, S3's Head in whole seconds: young is what counts).
		if err := r.store.Delete(ctx, tkey); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return true, fmt.Errorf("gc: drop the trash copy of %s: %w", key, err)
		}
		r.log.Info("gc: a candidate was touched meanwhile; kept", "key", key)
		return true, nil
	}
	if r.o.beforeDelete != nil {
		r.o.beforeDelete(key)
	}
	if err := r.store.Delete(ctx, key); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		return false, fmt.Errorf("gc: move %s to trash: %w", key, err)
	}
	return false, nil
}

// restore brings key back from trash (unless it is there already) and
// removes its trash entry.
func (r *run) restore(ctx context.Context, prefix, key string) error {
	tkey := PrefixTrash + key
	if _, err := r.store.Head(ctx, key); errors.Is(err, objectstore.ErrNotFound) {
		if err := objectstore.Copy(ctx, r.store, tkey, key); err != nil {
			return fmt.Errorf("gc: restore %s from trash: %w", key, err)
		}
		r.log.Warn("gc: restored a live object from trash", "key", key)
	} else if err != nil {
		return fmt.Errorf("gc: restore %s: %w", key, err)
	}
	if err := r.store.Delete(ctx, tkey); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		return fmt.Errorf("gc: restore %s: %w", key, err)
	}
	ps := r.stats.Prefixes[prefix]
	r.count(func(s *Stats) { ps.Restored++; s.Restored++ })
	return nil
}

// unionMember answers membership in any of sets, for digests asked in
// increasing order.
func unionMember(sets []*digestSet) (func(castore.Digest) (bool, error), func()) {
	ms := make([]*member, len(sets))
	for i, s := range sets {
		ms[i] = newMember(s)
	}
	return func(d castore.Digest) (bool, error) {
			found := false
			for _, m := range ms {
				ok, err := m.Has(d)
				if err != nil {
					return false, err
				}
				found = found || ok
			}
			return found, nil
		}, func() {
			for _, m := range ms {
				m.Close()
			}
		}
}
