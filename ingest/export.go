package ingest

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

// ExportOptions tune an export.
type ExportOptions struct {
	// Force allows a non-empty destination; what is in the way is replaced.
	Force bool
	// Concurrency is how many files are written at once (default as for
	// imports).
	Concurrency int
	// Progress, if set, is updated as files are written. (ExportTar uses
	// only this.)
	Progress *Progress
}

// ExportDir writes the tree of n to dest: contents, executable bits and
// symlinks (never followed). dest must not exist or be empty, unless
// o.Force. Nothing is ever written outside dest, even through symlinks
// that were already there.
func ExportDir(ctx context.Context, blobs castore.BlobService, dirs castore.DirectoryService, n castore.Node, dest string, o ExportOptions) error {
	switch n.Type {
	case castore.NodeFile, castore.NodeSymlink:
		parent, name := filepath.Split(filepath.Clean(dest))
		if parent == "" {
			parent = "."
		}
		root, err := os.OpenRoot(parent)
		if err != nil {
			return err
		}
		defer root.Close()
		if _, err := root.Lstat(name); err == nil && !o.Force {
			return fmt.Errorf("%s already exists (use --force to replace it)", dest)
		}
		return writeLeaf(ctx, blobs, root, name, n, o)
	case castore.NodeDirectory:
	default:
		return fmt.Errorf("export: %w", castore.ErrNoNodeSet)
	}
	all, err := closure.Read(ctx, dirs, n.Digest)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	if !o.Force {
		ents, err := os.ReadDir(dest)
		if err != nil {
			return err
		}
		if len(ents) > 0 {
			return fmt.Errorf("%s is not empty (use --force to write into it)", dest)
		}
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit((&Options{Concurrency: o.Concurrency}).concurrency())
	var walk func(dir *castore.Directory, rel string) error
	walk = func(dir *castore.Directory, rel string) error {
		for _, e := range dir.Entries() {
			p := filepath.Join(rel, string(e.Name))
			if e.Node.Type != castore.NodeDirectory {
				g.Go(func() error { return writeLeaf(gctx, blobs, root, p, e.Node, o) })
				continue
			}
			if err := mkdir(root, p, o.Force); err != nil {
				return err
			}
			if err := walk(all[e.Node.Digest], p); err != nil {
				return err
			}
		}
		return nil
	}
	werr := walk(all[n.Digest], ".")
	if err := g.Wait(); err != nil {
		return err
	}
	return werr
}

func mkdir(root *os.Root, p string, force bool) error {
	err := root.Mkdir(p, 0o755)
	if err == nil || !errors.Is(err, fs.ErrExist) || !force {
		return err
	}
	if fi, err := root.Lstat(p); err == nil && fi.IsDir() {
		return nil
	}
	if err := root.RemoveAll(p); err != nil {
		return err
	}
	return root.Mkdir(p, 0o755)
}

func writeLeaf(ctx context.Context, blobs castore.BlobService, root *os.Root, p string, n castore.Node, o ExportOptions) error {
	if o.Force {
		if err := root.RemoveAll(p); err != nil {
			return err
		}
	}
	if n.Type == castore.NodeSymlink {
		return root.Symlink(n.Target, p)
	}
	mode := os.FileMode(0o644)
	if n.Executable {
		mode = 0o755
	}
	f, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := copyBlob(ctx, blobs, f, n, o.Progress); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", p, err)
	}
	return f.Close()
}

// copyBlob writes the blob of file node n to w, checking its size, and
// counts it into prog (if set).
func copyBlob(ctx context.Context, blobs castore.BlobService, w io.Writer, n castore.Node, prog *Progress) error {
	r, err := blobs.Open(ctx, n.Digest)
	if err != nil {
		return err
	}
	defer r.Close()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	got, err := copyBuffer(counting(w, prog), r, *buf)
	if err != nil {
		return fmt.Errorf("blob %s: %w", n.Digest, err)
	}
	if uint64(got) != n.Size {
		return fmt.Errorf("blob %s has %d bytes, the file node says %d: %w", n.Digest, got, n.Size, castore.ErrCorrupt)
	}
	prog.add(1, 0) // its bytes were counted as they were written
	return nil
}

// ExportTar writes the tree of directory node n to w as a tar stream whose
// first entry is "./", the root, so that ImportTar reads it back to the
// same digest. Entries are in path order with fixed times and owners, so
// the same tree always gives the same bytes.
func ExportTar(ctx context.Context, blobs castore.BlobService, dirs castore.DirectoryService, n castore.Node, w io.Writer, o ExportOptions) error {
	if n.Type != castore.NodeDirectory {
		return fmt.Errorf("export --tar needs a directory, not a %s", n.Type)
	}
	all, err := closure.Read(ctx, dirs, n.Digest)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	hdr := func(name string, typ byte, mode int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, ModTime: epoch, Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(hdr("./", tar.TypeDir, 0o755)); err != nil {
		return err
	}
	var walk func(dir *castore.Directory, rel string) error
	walk = func(dir *castore.Directory, rel string) error {
		for _, e := range dir.Entries() {
			p := rel + string(e.Name)
			switch e.Node.Type {
			case castore.NodeDirectory:
				if err := tw.WriteHeader(hdr(p+"/", tar.TypeDir, 0o755)); err != nil {
					return err
				}
				if err := walk(all[e.Node.Digest], p+"/"); err != nil {
					return err
				}
			case castore.NodeSymlink:
				h := hdr(p, tar.TypeSymlink, 0o777)
				h.Linkname = e.Node.Target
				if err := tw.WriteHeader(h); err != nil {
					return err
				}
			case castore.NodeFile:
				mode := int64(0o644)
				if e.Node.Executable {
					mode = 0o755
				}
				h := hdr(p, tar.TypeReg, mode)
				h.Size = int64(e.Node.Size)
				if err := tw.WriteHeader(h); err != nil {
					return err
				}
				if err := copyBlob(ctx, blobs, tw, e.Node, o.Progress); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
			}
		}
		return nil
	}
	if err := walk(all[n.Digest], "./"); err != nil {
		return err
	}
	return tw.Close()
}

// copyBuffer copies with buf, hiding r's WriterTo and w's ReaderFrom so
// the buffer is used.
func copyBuffer(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, buf)
}
