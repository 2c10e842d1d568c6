package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/castore-go/castore"
)

// ImportPath imports the directory, file or symlink at path and returns its
// node. Directories are walked without following symlinks; symlinks are
// stored as they are; a file is executable if its owner may execute it (as
// in Nix). Sockets, devices and fifos are an error naming the path, unless
// o.SkipSpecial.
func ImportPath(ctx context.Context, blobs castore.BlobService, dirs castore.DirectoryService, path string, o Options) (castore.Node, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return castore.Node{}, err
	}
	u := newUploader(ctx, blobs, &o)
	switch {
	case fi.Mode().IsRegular():
		d, err := u.cachedFile(o.FileCache, path, fi)
		if err == nil {
			err = u.sync()
		}
		if err != nil {
			return castore.Node{}, err
		}
		return castore.FileNode(d, uint64(fi.Size()), fi.Mode()&0o100 != 0), nil
	case fi.Mode()&fs.ModeSymlink != 0:
		return readSymlink(path)
	case !fi.IsDir():
		return castore.Node{}, fmt.Errorf("%s: cannot import a %s", path, fileKind(fi.Mode()))
	}

	t := newTree()
	walkErr := filepath.WalkDir(path, func(full string, de fs.DirEntry, err error) error {
		if err != nil {
			return err // WalkDir's errors name the path already
		}
		if err := u.ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(path, full)
		if err != nil {
			return err
		}
		p, err := castorePath(rel)
		if err != nil {
			return fmt.Errorf("%s: %w", full, err)
		}
		mode := de.Type()
		switch {
		case mode.IsDir():
			return t.addDir(p, rel)
		case mode&fs.ModeSymlink != 0:
			n, err := readSymlink(full)
			if err != nil {
				return err
			}
			_, err = t.addLeaf(p, n, rel)
			return err
		case mode.IsRegular():
			fi, err := de.Info()
			if err != nil {
				return err
			}
			leaf, err := t.addLeaf(p, castore.FileNode(castore.Digest{}, uint64(fi.Size()), fi.Mode()&0o100 != 0), rel)
			if err != nil {
				return err
			}
			held := u.acquire(min(fi.Size(), streamHold))
			u.g.Go(func() error {
				defer u.release(held)
				d, err := u.cachedFile(o.FileCache, full, fi)
				leaf.node.Digest = d
				return err
			})
			return nil
		default:
			if o.SkipSpecial {
				return nil
			}
			return fmt.Errorf("%s: cannot import a %s (use --skip-special to leave it out)", full, fileKind(mode))
		}
	})
	upErr := u.wait()
	if walkErr != nil {
		// An upload failure cancels the walk; report the cause, not the
		// cancellation.
		if upErr != nil && errors.Is(walkErr, context.Canceled) {
			return castore.Node{}, upErr
		}
		return castore.Node{}, walkErr
	}
	if upErr != nil {
		return castore.Node{}, upErr
	}
	return putClosure(ctx, dirs, t.root)
}

// cachedFile stores the regular file at path (fi its lstat), or, if the
// file cache knows its digest and the blob service has that blob, reads
// nothing.
func (u *uploader) cachedFile(c FileCache, path string, fi fs.FileInfo) (castore.Digest, error) {
	if c == nil {
		return u.uploadFile(path, fi.Size())
	}
	if d, ok := c.Lookup(path, fi); ok {
		if ok, err := u.known(path, d, fi.Size()); ok || err != nil {
			return d, err
		}
	}
	d, err := u.uploadFile(path, fi.Size())
	if err == nil {
		c.Record(path, fi, d)
	}
	return d, err
}

func readSymlink(path string) (castore.Node, error) {
	target, err := os.Readlink(path)
	if err != nil {
		return castore.Node{}, err
	}
	n := castore.SymlinkNode(target)
	if err := n.Validate(); err != nil {
		return castore.Node{}, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// castorePath converts a relative host path ("." for the root).
func castorePath(rel string) (castore.Path, error) {
	if rel == "." {
		return "", nil
	}
	return castore.ParsePath(filepath.ToSlash(rel))
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return strings.TrimSpace("file of mode " + m.String())
}

// plainReader hides an *os.File's WriterTo, so io.Copy uses our larger
// buffer instead of 32 KiB reads.
type plainReader struct{ r io.Reader }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// WriteTo copies with a pooled 256 KiB buffer.
func (p plainReader) WriteTo(w io.Writer) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(w, struct{ io.Reader }{p.r}, *buf)
}
