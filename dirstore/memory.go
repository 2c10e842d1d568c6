package dirstore

import (
	"context"
	"fmt"
	"iter"
	"sync"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

// Memory is a DirectoryService in memory: every directory is addressable.
type Memory struct {
	mu   sync.RWMutex
	dirs map[castore.Digest]*castore.Directory
}

// NewMemory returns an empty memory DirectoryService.
func NewMemory() *Memory { return &Memory{dirs: map[castore.Digest]*castore.Directory{}} }

var _ castore.DirectoryService = (*Memory)(nil)

// Get returns the directory with digest d.
func (m *Memory) Get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	dir, ok := m.dirs[d]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("directory %s: %w", d, castore.ErrNotFound)
	}
	return dir, nil
}

// Put stores one directory. Its subdirectories must be stored already, with
// the sizes it gives them.
func (m *Memory) Put(ctx context.Context, dir *castore.Directory) (castore.Digest, error) {
	if err := ctx.Err(); err != nil {
		return castore.Digest{}, err
	}
	d := dir.Digest()
	m.mu.Lock()
	defer m.mu.Unlock()
	err := closure.CheckChildren(dir, "is not stored", func(c castore.Digest) (uint64, bool, error) {
		child, ok := m.dirs[c]
		if !ok {
			return 0, false, nil
		}
		return child.Size(), true, nil
	})
	if err != nil {
		return castore.Digest{}, err
	}
	m.dirs[d] = dir
	return d, nil
}

// Addressing is castore.AddressesAll.
func (m *Memory) Addressing() castore.Addressing { return castore.AddressesAll }

// GetRecursive yields the closure of root, root first, breadth-first, each
// directory once.
func (m *Memory) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	return closure.BreadthFirst(ctx, root, m.Get)
}

// NewPutter validates the closure and stores it at Close, all at once.
func (m *Memory) NewPutter(ctx context.Context) castore.DirectoryPutter {
	return closure.NewPutter(ctx, func(ctx context.Context, root castore.Digest, dirs []*castore.Directory) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, d := range dirs {
			m.dirs[d.Digest()] = d
		}
		return nil
	})
}
