package packstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/castore-go/castore/objectstore"
)

// Object times. A record carries no time of its own (the format is
// unchanged), so an object's modification time is its pack's: when the
// pack was last written (its file's mtime when the store opened, the last
// append since). That is never earlier than the object's own write, so an
// object looks at most as old as it is. Touch writes the object again at
// the head of the current pack: its time is then now, and the older copy
// is dead bytes until a compaction, as after a Put over it.

var _ objectstore.Toucher = (*driver)(nil)

// touch records that the pack was written now.
func (p *pack) touch() { p.modified.Store(time.Now().UnixNano()) }

// modTime is the modification time of the object at l. Caller holds mu.
func (s *driver) modTime(l loc) time.Time {
	if p := s.packs[l.pack]; p != nil {
		if ns := p.modified.Load(); ns != 0 {
			return time.Unix(0, ns)
		}
	}
	return time.Time{}
}

// Touch writes the object again in the current pack, durable like a Put.
// An object deleted meanwhile stays deleted (ErrNotFound); one put again
// meanwhile is new already and is left as it is.
func (s *driver) Touch(ctx context.Context, key string) error {
	var l loc
	var data []byte
	for attempt := 0; ; attempt++ {
		s.mu.RLock()
		cur, ok := s.index[key]
		p := s.packs[cur.pack]
		s.mu.RUnlock()
		if !ok || p == nil {
			return objectstore.NotFound("touch", key)
		}
		l, data = cur, make([]byte, cur.n)
		_, err := p.f.ReadAt(data, l.off)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrClosed) || attempt > 0 {
			return fmt.Errorf("touch %q: %w", key, err)
		}
		// Compacted meanwhile: its record is elsewhere now.
	}
	rec := encodeRecord(kindPut, key, data)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("touch %q: %w", key, objectstore.ErrClosed)
	}
	if cur, ok := s.index[key]; !ok {
		s.mu.Unlock()
		return objectstore.NotFound("touch", key)
	} else if cur != l {
		s.mu.Unlock()
		return nil
	}
	np, off, err := s.write(rec)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("touch %q: %w", key, err)
	}
	e := trailerEntry{kind: kindPut, key: key, off: off + recordHeader + int64(len(key)), n: uint32(len(data))}
	np.entries = append(np.entries, e)
	end := off + int64(len(rec))
	s.mu.Unlock()
	if !s.o.NoSync {
		if err := s.sync.wait(np, end); err != nil {
			return fmt.Errorf("touch %q: sync: %w", key, err)
		}
	}
	s.mu.Lock()
	if cur, ok := s.index[key]; ok && cur == l {
		s.index[key] = loc{pack: np.id, off: e.off, n: e.n}
	}
	s.mu.Unlock()
	return nil
}
