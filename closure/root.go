package closure

import (
	"context"
	"errors"
	"fmt"

	"github.com/castore-go/castore"
)

// CheckRoot checks that the closure of root is complete: for a directory,
// that dirs holds it with the size the node gives, and its whole closure
// (Read), and that blobs holds every blob its files name, with their
// sizes; for a file, its blob with its size; a symlink is complete. What
// is missing or of another size fails with an error wrapping
// castore.ErrIncomplete that names it. A tag's root is checked so before
// the tag is set (refstore.RequireComplete).
func CheckRoot(ctx context.Context, dirs castore.DirectoryService, blobs castore.BlobService, root castore.Node) error {
	switch root.Type {
	case castore.NodeSymlink:
		return nil
	case castore.NodeFile:
		return checkRootFile(ctx, blobs, root)
	case castore.NodeDirectory:
	default:
		return root.Validate()
	}
	all, err := Read(ctx, dirs, root.Digest)
	if errors.Is(err, castore.ErrNotFound) {
		return fmt.Errorf("root directory %s: its closure is not all in the directory service: %w (%w)", root.Digest, castore.ErrIncomplete, err)
	}
	if err != nil {
		return fmt.Errorf("root directory %s: %w", root.Digest, err)
	}
	if got := all[root.Digest].Size(); got != root.Size {
		return fmt.Errorf("root directory %s: the node gives size %d, the directory has %d: %w", root.Digest, root.Size, got, castore.ErrIncomplete)
	}
	c := newBlobCheck(ctx, blobs)
	for _, d := range all {
		if err := c.add(d); err != nil {
			c.wait()
			return err
		}
	}
	if err := c.wait(); err != nil {
		return err
	}
	return freshen(ctx, dirs, root)
}

// freshen keeps what a tag about to be set relies on (the root's bundle
// or blob) from garbage collection (castore.Freshener); a service that
// cannot is one garbage collection does not delete from.
func freshen(ctx context.Context, s any, root castore.Node) error {
	err := castore.Freshen(ctx, s, []castore.Digest{root.Digest})
	switch {
	case err == nil, errors.Is(err, castore.ErrUnsupported):
		return nil
	case errors.Is(err, castore.ErrNotFound):
		return fmt.Errorf("root %s: gone while it was checked: %w (%w)", root.Digest, castore.ErrIncomplete, err)
	}
	return fmt.Errorf("root %s: %w", root.Digest, err)
}

func checkRootFile(ctx context.Context, blobs castore.BlobService, root castore.Node) error {
	if root.Size > castore.MaxFileSize {
		return fmt.Errorf("root file %s: size %d is larger than a store holds: %w", root.Digest, root.Size, castore.ErrInvalid)
	}
	if root.Digest == castore.EmptyDigest && root.Size == 0 {
		return nil
	}
	sizes := []int64{-1}
	err := castore.StatBlobs(ctx, blobs, []castore.Digest{root.Digest}, func(d castore.Digest, size uint64, ok bool) error {
		if ok {
			sizes[0] = int64(size)
		}
		return nil
	})
	if errors.Is(err, castore.ErrUnsupported) {
		err = statOneByOne(ctx, blobs, []castore.Digest{root.Digest}, sizes)
	}
	switch {
	case err != nil:
		return fmt.Errorf("root file %s: looking up its blob: %w", root.Digest, err)
	case sizes[0] < 0:
		return fmt.Errorf("root file: blob %s (%d bytes) is not in the blob service: %w", root.Digest, root.Size, castore.ErrIncomplete)
	case uint64(sizes[0]) != root.Size:
		return fmt.Errorf("root file: the node gives blob %s size %d, the blob service has it with %d bytes: %w", root.Digest, root.Size, sizes[0], castore.ErrIncomplete)
	}
	return freshen(ctx, blobs, root)
}
