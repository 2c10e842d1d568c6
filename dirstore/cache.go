package dirstore

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

func (c *Cache) countRead(ctx context.Context, hit bool) {
	r := "miss"
	if hit {
		r = "hit"
	}
	c.reads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", r)))
}

// Cache is a near/far DirectoryService: reads try near first; on a miss
// the whole closure is read from far, checked root first, put into near
// through one putter, and then answered. Far may address only roots
// (bundles): near, which addresses every directory, then serves the
// subdirectories. Writes go to far, then to near. There is no negative
// cache: an unknown digest asks far every time.
type Cache struct {
	near, far castore.DirectoryService
	// reads counts lookups (Get and GetRecursive), by result: "hit" (near
	// answered) or "miss" (far was asked).
	reads metric.Int64Counter
}

var _ castore.DirectoryService = (*Cache)(nil)

// NewCache returns a cache of far in near.
func NewCache(near, far castore.DirectoryService) *Cache {
	reads, _ := otel.Meter("github.com/castore-go/castore/dirstore").Int64Counter("castore_near_cache_directory_reads",
		metric.WithDescription("near/far directory cache lookups, by result: hit or miss"))
	return &Cache{near: near, far: far, reads: reads}
}

// Get returns d from near, or fills near with the closure of d from far.
func (c *Cache) Get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
	dir, err := c.near.Get(ctx, d)
	if err == nil || !isNotFound(err) {
		c.countRead(ctx, err == nil)
		return dir, err
	}
	c.countRead(ctx, false)
	dirs, err := c.fill(ctx, d)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("directory %s: %w", d, castore.ErrNotFound)
	}
	return dirs[0], nil
}

// Addressing is what the pair finds: all directories if far does (a miss
// reads the closure of any directory from far), only roots if both near
// and far address only roots, and otherwise some: the subdirectories of
// the closures that passed through near.
func (c *Cache) Addressing() castore.Addressing {
	switch far := c.far.Addressing(); {
	case far == castore.AddressesAll:
		return castore.AddressesAll
	case far == castore.AddressesRoots && c.near.Addressing() == castore.AddressesRoots:
		return castore.AddressesRoots
	}
	return castore.AddressesSome
}

// fill reads the closure of root from far, checks it, and puts it into
// near. It returns the closure root first, or nothing if far does not
// know root.
func (c *Cache) fill(ctx context.Context, root castore.Digest) ([]*castore.Directory, error) {
	v := closure.NewRootFirstValidator(root)
	var dirs []*castore.Directory
	for dir, err := range c.far.GetRecursive(ctx, root) {
		if err != nil {
			return nil, fmt.Errorf("far: %w", err)
		}
		if err := v.Add(dir); err != nil {
			return nil, fmt.Errorf("far: closure of %s: %w", root, err)
		}
		dirs = append(dirs, dir)
	}
	if err := v.Finish(); err != nil {
		return nil, fmt.Errorf("far: %w", err)
	}
	if len(dirs) == 0 {
		return nil, nil
	}
	p := c.near.NewPutter(ctx)
	for _, dir := range closure.LeavesFirst(root, dirs) {
		if err := p.Put(dir); err != nil {
			return nil, fmt.Errorf("near: %w", err)
		}
	}
	if _, err := p.Close(); err != nil {
		return nil, fmt.Errorf("near: %w", err)
	}
	return dirs, nil
}

// GetRecursive streams the closure from near when near has the root, else
// fills near from far first.
func (c *Cache) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) {
		first := true
		for dir, err := range c.near.GetRecursive(ctx, root) {
			if !yield(dir, err) || err != nil {
				return
			}
			first = false
		}
		c.countRead(ctx, !first)
		if !first {
			return
		}
		dirs, err := c.fill(ctx, root)
		if err != nil {
			yield(nil, err)
			return
		}
		for _, dir := range dirs {
			if !yield(dir, nil) {
				return
			}
		}
	}
}

// Put stores dir in far, then near.
func (c *Cache) Put(ctx context.Context, dir *castore.Directory) (castore.Digest, error) {
	d, err := c.far.Put(ctx, dir)
	if err != nil {
		return d, fmt.Errorf("far: %w", err)
	}
	if _, err := c.near.Put(ctx, dir); err != nil {
		return d, fmt.Errorf("near: %w", err)
	}
	return d, nil
}

// NewPutter sends the closure to far and to near; Close closes far's
// putter first, so near never holds a root far refused.
func (c *Cache) NewPutter(ctx context.Context) castore.DirectoryPutter {
	ctx, cancel := context.WithCancel(ctx)
	return &cachePutter{far: c.far.NewPutter(ctx), near: c.near.NewPutter(ctx), cancel: cancel}
}

type cachePutter struct {
	far, near castore.DirectoryPutter
	cancel    context.CancelFunc
}

func (p *cachePutter) Put(dir *castore.Directory) error {
	if err := p.far.Put(dir); err != nil {
		return err
	}
	return p.near.Put(dir)
}

func (p *cachePutter) Close() (castore.Digest, error) {
	defer p.cancel()
	root, err := p.far.Close()
	if err != nil {
		return root, err // the deferred cancel abandons near's putter
	}
	nroot, err := p.near.Close()
	if err != nil {
		return root, fmt.Errorf("near: %w", err)
	}
	if nroot != root {
		return root, errors.New("near and far disagree on the root of the closure")
	}
	return root, nil
}

func isNotFound(err error) bool { return errors.Is(err, castore.ErrNotFound) }
