package packstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/castore-go/castore/objectstore"
)

// Compaction. A Delete writes a tombstone and a Put over a key leaves the
// older record: their bytes stay in their packs. Compact rewrites what is
// still live in every sealed pack that is mostly dead, at the head of the
// current pack, and then removes the pack: its bytes are reclaimed.
//
// A pack's tombstones go with it, but one that still hides an older put
// of its key (in a pack that stays) is written again first, and only for
// a key that is deleted now (a tombstone written after a newer put would
// delete it on the next open). Every rewritten record is on disk before
// the pack is removed, so a crash at any point leaves the store as it
// was or compacted; a reader that had the old pack retries with the
// index, which by then names the new copy.

// CompactMaxLive: a sealed pack is compacted when its live records take
// less than this share of it.
const CompactMaxLive = 0.5

var _ objectstore.Compacter = (*driver)(nil)

// Compact compacts every sealed pack whose live records take less than
// CompactMaxLive of it, and reports the bytes reclaimed (the packs'
// sizes less what was written again).
func (s *driver) Compact(ctx context.Context) (int64, error) {
	if s.o.MaxBytes > 0 {
		return 0, nil // a cache drops whole packs instead
	}
	candidates, keep := s.compactionCandidates()
	if len(candidates) == 0 {
		return 0, nil
	}
	// Tombstones of the candidates that still hide a put in a pack that
	// stays, older than theirs.
	needed, err := s.neededTombstones(candidates, keep)
	if err != nil {
		return 0, err
	}
	var written int64
	type moved struct {
		key      string
		from, to loc
	}
	var moves []moved
	ends := map[*pack]int64{}
	for _, p := range candidates {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		s.mu.RLock()
		var live []string
		for k, l := range s.index {
			if l.pack == p.id {
				live = append(live, k)
			}
		}
		s.mu.RUnlock()
		slices.Sort(live)
		for _, key := range live {
			s.mu.RLock()
			l, ok := s.index[key]
			s.mu.RUnlock()
			if !ok || l.pack != p.id {
				continue
			}
			data := make([]byte, l.n)
			if _, err := p.f.ReadAt(data, l.off); err != nil {
				return 0, fmt.Errorf("compact %s: %w", p.f.Name(), err)
			}
			rec := encodeRecord(kindPut, key, data)
			s.mu.Lock()
			if cur, ok := s.index[key]; !ok || cur != l || s.closed {
				s.mu.Unlock()
				continue
			}
			np, off, err := s.write(rec)
			if err != nil {
				s.mu.Unlock()
				return 0, fmt.Errorf("compact: %w", err)
			}
			e := trailerEntry{kind: kindPut, key: key, off: off + recordHeader + int64(len(key)), n: uint32(len(data))}
			np.entries = append(np.entries, e)
			ends[np] = off + int64(len(rec))
			s.mu.Unlock()
			moves = append(moves, moved{key: key, from: l, to: loc{pack: np.id, off: e.off, n: e.n}})
			written += int64(len(rec))
		}
		for _, key := range needed[p.id] {
			rec := encodeRecord(kindDelete, key, nil)
			s.mu.Lock()
			if _, ok := s.index[key]; ok || s.closed {
				s.mu.Unlock()
				continue // put again since: its newer record wins anyway
			}
			np, off, err := s.write(rec)
			if err != nil {
				s.mu.Unlock()
				return 0, fmt.Errorf("compact: %w", err)
			}
			np.entries = append(np.entries, trailerEntry{kind: kindDelete, key: key})
			ends[np] = off + int64(len(rec))
			s.mu.Unlock()
			written += int64(len(rec))
		}
	}
	// Everything written again is on disk before a pack goes.
	if !s.o.NoSync {
		for p, end := range ends {
			if err := s.sync.wait(p, end); err != nil {
				return 0, fmt.Errorf("compact: sync: %w", err)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range moves {
		if cur, ok := s.index[m.key]; ok && cur == m.from {
			s.index[m.key] = m.to
		}
	}
	var removed int64
	for _, p := range candidates {
		still := false
		for _, l := range s.index {
			if l.pack == p.id {
				still = true // written to meanwhile? never: sealed. Kept to be safe.
				break
			}
		}
		if still || s.packs[p.id] != p {
			continue
		}
		delete(s.packs, p.id)
		s.total -= p.size
		removed += p.size
		p.f.Close()
		if err := os.Remove(p.f.Name()); err != nil {
			return removed - written, fmt.Errorf("compact: %w", err)
		}
	}
	if !s.o.NoSync {
		if err := syncDir(s.dir); err != nil {
			return removed - written, fmt.Errorf("compact: %w", err)
		}
	}
	return removed - written, nil
}

// compactionCandidates returns the sealed packs to compact, oldest first,
// and the ids of the sealed packs that stay.
func (s *driver) compactionCandidates() (candidates []*pack, keep []uint32) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	live := map[uint32]int64{}
	for k, l := range s.index {
		live[l.pack] += int64(recordHeader+len(k)) + int64(l.n)
	}
	for id, p := range s.packs {
		if p == s.cur || p.size == 0 {
			continue
		}
		if float64(live[id]) < CompactMaxLive*float64(p.size) {
			candidates = append(candidates, p)
		} else {
			keep = append(keep, id)
		}
	}
	slices.SortFunc(candidates, func(a, b *pack) int { return int(a.id) - int(b.id) })
	return candidates, keep
}

// neededTombstones returns, by candidate pack, the keys of its tombstones
// that hide a put in an older pack that stays.
func (s *driver) neededTombstones(candidates []*pack, keep []uint32) (map[uint32][]string, error) {
	tomb := map[string]uint32{} // key -> the newest candidate pack with its tombstone
	for _, p := range candidates {
		entries, _, sealed, err := readTrailer(p.f)
		if err != nil || !sealed {
			return nil, fmt.Errorf("compact %s: reading its trailer: %v (sealed %v)", p.f.Name(), err, sealed)
		}
		for _, e := range entries {
			if e.kind == kindDelete {
				tomb[e.key] = max(tomb[e.key], p.id)
			}
		}
	}
	needed := map[uint32][]string{}
	if len(tomb) == 0 {
		return needed, nil
	}
	s.mu.RLock()
	var stay []*pack
	for _, id := range keep {
		if p := s.packs[id]; p != nil {
			stay = append(stay, p)
		}
	}
	s.mu.RUnlock()
	found := map[string]bool{}
	for _, q := range stay {
		entries, _, sealed, err := readTrailer(q.f)
		if err != nil || !sealed {
			return nil, fmt.Errorf("compact %s: reading its trailer: %v (sealed %v)", q.f.Name(), err, sealed)
		}
		for _, e := range entries {
			if id, ok := tomb[e.key]; ok && e.kind == kindPut && q.id < id && !found[e.key] {
				found[e.key] = true
				needed[id] = append(needed[id], e.key)
			}
		}
	}
	return needed, nil
}

// errPackGone: a read found its pack closed, evicted or compacted away.
var errPackGone = errors.New("pack removed meanwhile")

// read returns key's bytes, looking again if the pack went meanwhile: a
// compacted pack's records are elsewhere by then; an evicted one's, gone.
func (s *driver) read(key string) ([]byte, error) {
	data, err := s.readOnce(key)
	if errors.Is(err, errPackGone) {
		data, err = s.readOnce(key)
	}
	if errors.Is(err, errPackGone) {
		return nil, fmt.Errorf("get %q: %w", key, objectstore.ErrNotFound)
	}
	return data, err
}
