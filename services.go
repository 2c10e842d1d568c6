package castore

import (
	"context"
	"fmt"
	"io"
	"iter"
)

// ChunkMeta describes one chunk of a blob: its digest and uncompressed size.
type ChunkMeta struct {
	Digest Digest
	Size   uint64
}

// BlobReader reads one blob. Every byte it returns has been verified against
// the blob's (or its chunk's) digest; a mismatch is an error wrapping
// ErrCorrupt, never wrong bytes and never an early io.EOF. ReadAt may be
// called concurrently with itself, but not with Read or Seek.
type BlobReader interface {
	io.Reader
	io.Seeker
	io.ReaderAt
	io.Closer
}

// BlobWriter writes one blob. Close returns its digest once every byte is
// durably stored; until then, and whenever Close returns an error, the blob
// is not present. To abandon a write, cancel the context it was created
// with: nothing of the blob becomes visible.
type BlobWriter interface {
	io.Writer
	Close() (Digest, error)
}

// BlobService stores blobs by their BLAKE3 digest.
//
// Implementations must:
//   - answer Has, Open and Chunks for chunk digests as well as blob digests;
//   - return an error wrapping ErrNotFound from Open and Chunks for unknown
//     digests, except that the empty blob (EmptyDigest) always opens;
//   - never return bytes that do not hash to the digest asked for.
type BlobService interface {
	// Has reports whether the blob or chunk is present.
	Has(ctx context.Context, d Digest) (bool, error)
	// Open returns a reader for the blob or chunk.
	Open(ctx context.Context, d Digest) (BlobReader, error)
	// Create starts writing a new blob.
	Create(ctx context.Context) BlobWriter
	// Chunks lists the chunks of a blob in order. An empty list means the
	// blob is not split further (it is one chunk, or the store does not
	// chunk): read it whole with Open.
	Chunks(ctx context.Context, d Digest) ([]ChunkMeta, error)
}

// DirectoryPutter uploads one closure, leaves first and the root last.
// Close validates what was put and returns the root's digest; if it
// returns an error, no root from this putter is visible. To abandon a putter,
// cancel the context it was created with.
type DirectoryPutter interface {
	// Put adds the next directory. It may report a closure error early
	// (a reference to a directory not put yet, a wrong size); after an
	// error the putter is spent.
	Put(d *Directory) error
	// Close finishes the closure and returns the root digest.
	Close() (Digest, error)
}

// Addressing says which directories a DirectoryService's Get finds. It is
// part of the contract, so that a wrapper passes it on or states its own,
// and a caller can tell a store that keeps only roots addressable from one
// that lost a directory.
type Addressing uint8

const (
	// AddressesSome: Get finds roots and may or may not find a directory
	// below one. The answer of a service that cannot promise either of the
	// others: a client of a remote service (the protocol does not say), or a
	// cache whose far service addresses only roots (it finds the
	// subdirectories of the closures that passed through it).
	AddressesSome Addressing = iota
	// AddressesAll: Get finds every directory the service holds,
	// subdirectories of closures included.
	AddressesAll
	// AddressesRoots: Get finds only the roots of closures put through a
	// putter (and directories put on their own), never a directory that is
	// only below one (bundles). The rest of a closure is read through its
	// root's GetRecursive.
	AddressesRoots
)

func (a Addressing) String() string {
	switch a {
	case AddressesSome:
		return "some directories"
	case AddressesAll:
		return "all directories"
	case AddressesRoots:
		return "roots only"
	}
	return fmt.Sprintf("Addressing(%d)", uint8(a))
}

// DirectoryService stores Directories by digest.
//
// Implementations must:
//   - say with Addressing which directories Get finds, and keep to it;
//   - return an error wrapping ErrNotFound from Get for unknown digests;
//   - return only Directories whose digest is the one asked for;
//   - yield from GetRecursive the root first, then breadth-first, each digest
//     once, and nothing at all (no error) for an unknown root;
//   - refuse in a putter any closure that is unordered, disconnected, refers
//     to directories it was not given, or has a wrong child size.
type DirectoryService interface {
	// Get returns one directory.
	Get(ctx context.Context, d Digest) (*Directory, error)
	// Put stores one directory on its own. Stores that keep closures whole
	// (bundles) refuse a directory with subdirectories: use a putter.
	Put(ctx context.Context, dir *Directory) (Digest, error)
	// GetRecursive yields the closure of root, root first, breadth-first.
	// Iteration stops after the first error.
	GetRecursive(ctx context.Context, root Digest) iter.Seq2[*Directory, error]
	// NewPutter starts uploading a closure.
	NewPutter(ctx context.Context) DirectoryPutter
	// Addressing says which directories Get finds: all, only roots, or
	// some. A service that wraps another says what the combination finds.
	Addressing() Addressing
}
