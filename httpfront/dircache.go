package httpfront

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

// DefaultCacheEntries bounds the directories kept in memory, counted in
// entries (a directory costs its entries plus one): about 30 MB.
const DefaultCacheEntries = 1 << 18

// dirCache keeps the directories requests have read, least recently used
// out first. Directories never change, so a cached one is always right;
// the cache saves a round trip to a remote directory service per path
// component, and, on a store that addresses only roots, a read of the
// whole closure per request.
type dirCache struct {
	dirs castore.DirectoryService
	max  int

	mu    sync.Mutex
	items map[castore.Digest]*list.Element
	lru   list.List // of *cached, most recent first
	cost  int
}

type cached struct {
	d   castore.Digest
	dir *castore.Directory
}

func newDirCache(dirs castore.DirectoryService, maxEntries int) *dirCache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	return &dirCache{dirs: dirs, max: maxEntries, items: map[castore.Digest]*list.Element{}}
}

func (c *dirCache) lookup(d castore.Digest) *castore.Directory {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[d]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cached).dir
	}
	return nil
}

func (c *dirCache) add(d castore.Digest, dir *castore.Directory) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[d]; ok {
		return
	}
	cost := dir.Len() + 1
	if cost > c.max {
		return
	}
	c.items[d] = c.lru.PushFront(&cached{d, dir})
	c.cost += cost
	for c.cost > c.max {
		old := c.lru.Back()
		v := old.Value.(*cached)
		c.lru.Remove(old)
		delete(c.items, v.d)
		c.cost -= v.dir.Len() + 1
	}
}

// get returns directory d of the tree rooted at root: from the cache,
// from the service's Get, or, where Get does not find it (a store that
// addresses only roots), from root's closure, read whole and cached.
func (c *dirCache) get(ctx context.Context, root, d castore.Digest) (*castore.Directory, error) {
	if dir := c.lookup(d); dir != nil {
		return dir, nil
	}
	if d == root || c.dirs.Addressing() != castore.AddressesRoots {
		dir, err := c.dirs.Get(ctx, d)
		if err == nil {
			c.add(d, dir)
			return dir, nil
		}
		if d == root || !errors.Is(err, castore.ErrNotFound) {
			return nil, err
		}
	}
	all, err := closure.Read(ctx, c.dirs, root)
	if err != nil {
		return nil, fmt.Errorf("closure of %s: %w", root, err)
	}
	for digest, dir := range all {
		c.add(digest, dir)
	}
	if dir := all[d]; dir != nil {
		return dir, nil
	}
	return nil, fmt.Errorf("directory %s is not in the closure of %s: %w", d, root, castore.ErrNotFound)
}

// treeView is the directories of one tree as a read-only
// DirectoryService that finds every one of them (AddressesAll), through
// the cache: what ingest.ExportTar reads a subtree from.
type treeView struct {
	c    *dirCache
	root castore.Digest
}

var _ castore.DirectoryService = treeView{}

func (v treeView) Get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
	return v.c.get(ctx, v.root, d)
}

// GetRecursive streams the closure of d from the store, where it finds
// d; where it does not (a store that addresses only roots, or may), it
// walks it through the cache, which reads the root's closure once.
func (v treeView) GetRecursive(ctx context.Context, d castore.Digest) iter.Seq2[*castore.Directory, error] {
	if d != v.root && v.c.dirs.Addressing() == castore.AddressesRoots {
		return closure.BreadthFirst(ctx, d, v.Get)
	}
	return func(yield func(*castore.Directory, error) bool) {
		found := false
		for dir, err := range v.c.dirs.GetRecursive(ctx, d) {
			if err != nil {
				yield(nil, err)
				return
			}
			found = true
			if !yield(dir, nil) {
				return
			}
		}
		if !found && d != v.root {
			for dir, err := range closure.BreadthFirst(ctx, d, v.Get) {
				if !yield(dir, err) {
					return
				}
			}
		}
	}
}

func (v treeView) Put(context.Context, *castore.Directory) (castore.Digest, error) {
	return castore.Digest{}, fmt.Errorf("the HTTP gateway's view of a tree is read-only: %w", castore.ErrUnsupported)
}

func (v treeView) NewPutter(context.Context) castore.DirectoryPutter {
	return closure.FailedPutter(fmt.Errorf("the HTTP gateway's view of a tree is read-only: %w", castore.ErrUnsupported))
}

func (v treeView) Addressing() castore.Addressing { return castore.AddressesAll }
