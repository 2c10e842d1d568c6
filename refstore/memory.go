package refstore

import (
	"context"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/castore-go/castore"
)

// Memory is a RefService in process memory, for tests and for a
// composition that keeps nothing.
type Memory struct {
	mu   sync.Mutex
	tags map[string]castore.Tag
}

var _ castore.RefService = (*Memory)(nil)

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{tags: make(map[string]castore.Tag)} }

func (m *Memory) Get(ctx context.Context, name string) (castore.Tag, error) {
	if err := checkName(ctx, "get", name); err != nil {
		return castore.Tag{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tags[name]
	if !ok {
		return castore.Tag{}, notFound("get", name)
	}
	return t, nil
}

func (m *Memory) Set(ctx context.Context, t castore.Tag, expect castore.Expect) (castore.Tag, error) {
	if err := checkSet(ctx, t, expect); err != nil {
		return castore.Tag{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !expect.Holds(m.current(t.Name)) {
		return castore.Tag{}, conflict("set", t.Name, expect, m.current(t.Name))
	}
	t = stamp(t)
	m.tags[t.Name] = t
	return t, nil
}

func (m *Memory) Delete(ctx context.Context, name string, expect castore.Expect) error {
	if err := checkDelete(ctx, name, expect); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.current(name)
	switch {
	case cur == nil && expect.IsAny():
		return notFound("delete", name)
	case !expect.Holds(cur):
		return conflict("delete", name, expect, cur)
	}
	delete(m.tags, name)
	return nil
}

// current returns the stored tag of name, or nil; m.mu is held.
func (m *Memory) current(name string) *castore.Tag {
	if t, ok := m.tags[name]; ok {
		return &t
	}
	return nil
}

// List yields the tags under prefix as they were when it started.
func (m *Memory) List(ctx context.Context, prefix string) iter.Seq2[castore.Tag, error] {
	return func(yield func(castore.Tag, error) bool) {
		if err := checkPrefix(ctx, prefix); err != nil {
			yield(castore.Tag{}, err)
			return
		}
		m.mu.Lock()
		var tags []castore.Tag
		for name, t := range m.tags {
			if strings.HasPrefix(name, prefix) {
				tags = append(tags, t)
			}
		}
		m.mu.Unlock()
		slices.SortFunc(tags, func(a, b castore.Tag) int { return strings.Compare(a.Name, b.Name) })
		for _, t := range tags {
			if err := ctx.Err(); err != nil {
				yield(castore.Tag{}, err)
				return
			}
			if !yield(t, nil) {
				return
			}
		}
	}
}
