package dirstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/objectstore"
)

// DefaultMaxFrame bounds one directory frame in a bundle (tvix allows up
// to 1000 MiB; a directory of a million entries is about 50 MB).
const DefaultMaxFrame = 64 << 20

// Bundles is a DirectoryService on an objectstore.Store in tvix's layout:
// each closure put through a putter is one object, keyed by its root,
//
//	dirs/b3/<hex[0:4]>/<hex>
//
// holding a zstd stream of frames, each a 4-byte big-endian length and one
// canonical Directory, root first. Only roots are addressable; put a near
// cache in front to address subdirectories.
type Bundles struct {
	store    objectstore.Store
	maxFrame int
	enc      *zstd.Encoder
}

var _ castore.DirectoryService = (*Bundles)(nil)

// NewBundles returns a bundle store on s; maxFrame <= 0 means
// DefaultMaxFrame.
func NewBundles(s objectstore.Store, maxFrame int) (*Bundles, error) {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, err
	}
	return &Bundles{store: s, maxFrame: maxFrame, enc: enc}, nil
}

// Close releases the store underneath.
func (b *Bundles) Close() error { return b.store.Close() }

// BundleKey is the object key of the closure of root.
func BundleKey(root castore.Digest) string {
	h := root.Hex()
	return "dirs/b3/" + h[:4] + "/" + h
}

// Get returns a root directory (the first frame of its bundle).
func (b *Bundles) Get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
	for dir, err := range b.GetRecursive(ctx, d) {
		if err != nil {
			return nil, err
		}
		return dir, nil
	}
	return nil, fmt.Errorf("directory %s: %w (bundles address only roots)", d, castore.ErrNotFound)
}

// Addressing is castore.AddressesRoots: a closure is one object, keyed by
// its root.
func (b *Bundles) Addressing() castore.Addressing { return castore.AddressesRoots }

// Put stores a directory without subdirectories as a closure of one.
func (b *Bundles) Put(ctx context.Context, dir *castore.Directory) (castore.Digest, error) {
	for _, e := range dir.Entries() {
		if e.Node.Type == castore.NodeDirectory {
			return castore.Digest{}, closure.Invalid(dir.Digest(), "bundles store whole closures: put a directory with subdirectories through a putter")
		}
	}
	p := b.NewPutter(ctx)
	if err := p.Put(dir); err != nil {
		return castore.Digest{}, err
	}
	return p.Close()
}

// GetRecursive streams the bundle of root. Each frame's length is checked
// against the bound before anything is allocated for it, and its digest
// against the directories referred to so far before it is decoded; a
// truncated stream, an oversized, foreign or invalid frame, or a closure
// that ends with directories missing is an error, and nothing after it is
// yielded.
func (b *Bundles) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) {
		r, err := b.store.Get(ctx, BundleKey(root))
		if errors.Is(err, objectstore.ErrNotFound) {
			return
		}
		if err != nil {
			yield(nil, fmt.Errorf("closure %s: %w", root, err))
			return
		}
		defer r.Close()
		for dir, err := range ReadBundle(r, root, b.maxFrame) {
			if !yield(dir, err) || err != nil {
				return
			}
		}
	}
}

// ReadBundle decodes a bundle stream whose root is root; see GetRecursive.
func ReadBundle(r io.Reader, root castore.Digest, maxFrame int) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) {
		fail := func(format string, args ...any) {
			yield(nil, fmt.Errorf("closure %s: %w: %s", root, castore.ErrCorrupt, fmt.Sprintf(format, args...)))
		}
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20), zstd.WithDecoderMaxMemory(uint64(maxFrame)+(64<<20)))
		if err != nil {
			fail("zstd: %v", err)
			return
		}
		defer zr.Close()
		v := closure.NewRootFirstValidator(root)
		var hdr [4]byte
		var buf []byte // reused: UnmarshalDirectory keeps no reference to it
		for n := 0; ; n++ {
			if _, err := io.ReadFull(zr, hdr[:]); err != nil {
				if err == io.EOF && n > 0 {
					break
				}
				fail("frame %d: reading its length: %v", n, err)
				return
			}
			l := binary.BigEndian.Uint32(hdr[:])
			if uint64(l) > uint64(maxFrame) {
				fail("frame %d is %d bytes, more than the %d allowed", n, l, maxFrame)
				return
			}
			if uint32(cap(buf)) < l {
				buf = make([]byte, l)
			}
			buf = buf[:l]
			if _, err := io.ReadFull(zr, buf); err != nil {
				fail("frame %d: truncated: %v", n, err)
				return
			}
			d := castore.Sum(buf)
			if err := v.Expect(d); err != nil {
				yield(nil, fmt.Errorf("closure %s: frame %d: %w", root, n, err))
				return
			}
			dir, err := castore.UnmarshalDirectory(buf)
			if err != nil {
				fail("frame %d (%s): %v", n, d, err)
				return
			}
			// The encoding is canonical, so d is dir.Digest(): no need to
			// encode and hash it again.
			if err := v.AddWithDigest(d, dir); err != nil {
				yield(nil, fmt.Errorf("closure %s: frame %d: %w", root, n, err))
				return
			}
			if !yield(dir, nil) {
				return
			}
		}
		if err := v.Finish(); err != nil {
			yield(nil, fmt.Errorf("closure %s: %w", root, err))
		}
	}
}

// AppendBundle encodes dirs (root first) as uncompressed frames.
func AppendBundle(b []byte, dirs []*castore.Directory) []byte {
	for _, d := range dirs {
		enc := d.Marshal()
		b = binary.BigEndian.AppendUint32(b, uint32(len(enc)))
		b = append(b, enc...)
	}
	return b
}

// NewPutter validates the closure; Close writes it as one object, root
// first, unless an object for the root exists already.
func (b *Bundles) NewPutter(ctx context.Context) castore.DirectoryPutter {
	return closure.NewPutter(ctx, b.commit)
}

func (b *Bundles) commit(ctx context.Context, root castore.Digest, dirs []*castore.Directory) error {
	for _, d := range dirs {
		if l := len(d.Marshal()); l > b.maxFrame {
			return closure.Invalid(d.Digest(), "its encoding is %d bytes, more than the %d a bundle frame may hold", l, b.maxFrame)
		}
	}
	frames := AppendBundle(nil, closure.RootFirst(root, dirs))
	obj := b.enc.EncodeAll(frames, make([]byte, 0, len(frames)/3))
	for attempt := 0; ; attempt++ {
		created, err := b.store.PutIfAbsent(ctx, BundleKey(root), bytes.NewReader(obj))
		if err != nil || created {
			if err != nil {
				return fmt.Errorf("store closure %s: %w", root, err)
			}
			return nil
		}
		// There already, and relied on: keep it fresh (freshen.go), or put
		// it again if it went meanwhile.
		err = b.freshen(ctx, root)
		if errors.Is(err, castore.ErrNotFound) && attempt == 0 {
			continue
		}
		return err
	}
}

// Roots yields the root of every bundle stored, in key order; a key under
// the bundles' prefix that names no digest is an error naming it (and the
// listing goes on).
func (b *Bundles) Roots(ctx context.Context) iter.Seq2[castore.Digest, error] {
	return func(yield func(castore.Digest, error) bool) {
		for info, err := range b.store.List(ctx, "dirs/b3/") {
			if err != nil {
				yield(castore.Digest{}, fmt.Errorf("list bundles: %w", err))
				return
			}
			h := info.Key[strings.LastIndexByte(info.Key, '/')+1:]
			d, err := castore.ParseDigest(h)
			if err != nil || BundleKey(d) != info.Key {
				if !yield(castore.Digest{}, fmt.Errorf("object %q under dirs/b3/ is no bundle's key", info.Key)) {
					return
				}
				continue
			}
			if !yield(d, nil) {
				return
			}
		}
	}
}
