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
	// Progress, if set, is updated as files are written, and told the
	// total before the first is. (ExportTar uses only this.)
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
		if n.Type == castore.NodeFile {
			o.Progress.setTotal(1, int64(n.Size))
		}
		return writeLeaf(ctx, blobs, root, name, n, nil, o)
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
	// Directories first, then the files, their small contents read ahead
	// in batches where the store can.
	var files []fileRef
	var walk func(dir *castore.Directory, rel string) error
	walk = func(dir *castore.Directory, rel string) error {
		for _, e := range dir.Entries() {
			p := filepath.Join(rel, string(e.Name))
			if e.Node.Type != castore.NodeDirectory {
				files = append(files, fileRef{p, e.Node})
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
	if err := walk(all[n.Digest], "."); err != nil {
		return err
	}
	o.Progress.setTotal(totalOf(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit((&Options{Concurrency: o.Concurrency}).concurrency())
	rerr := newReadAhead(gctx, blobs, files).each(gctx, func(f fileRef, data []byte) error {
		g.Go(func() error { return writeLeaf(gctx, blobs, root, f.path, f.node, data, o) })
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return rerr
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

// writeLeaf writes the file or symlink n at p: the file's contents are
// data if it is not nil (read and verified already), else read from
// blobs.
func writeLeaf(ctx context.Context, blobs castore.BlobService, root *os.Root, p string, n castore.Node, data []byte, o ExportOptions) error {
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
	c, err := openContents(ctx, blobs, n, data)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer c.close()
	f, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := c.writeTo(f, o.Progress); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", p, err)
	}
	return f.Close()
}

// writeBlob writes the contents of file node n to w: data if it is not
// nil, else the blob read from blobs. Its size is checked before anything
// is written.
func writeBlob(ctx context.Context, blobs castore.BlobService, w io.Writer, n castore.Node, data []byte, prog *Progress) error {
	c, err := openContents(ctx, blobs, n, data)
	if err != nil {
		return err
	}
	defer c.close()
	return c.writeTo(w, prog)
}

// contents are a file node's bytes, ready to write: data read ahead, or
// its blob opened. Its size was checked against the node's when it was
// opened, so a writer fails before it writes a byte of a blob that does
// not fit its node (a file created, a tar header).
type contents struct {
	n    castore.Node
	data []byte
	r    castore.BlobReader
}

// openContents checks and opens the contents of file node n: data if it
// is not nil (read and verified already), else its blob, opened with its
// size checked (castore.OpenSized).
func openContents(ctx context.Context, blobs castore.BlobService, n castore.Node, data []byte) (*contents, error) {
	if n.Size > castore.MaxFileSize {
		return nil, fmt.Errorf("the file node says %d bytes, more than a file may have: %w", n.Size, castore.ErrInvalid)
	}
	if data != nil {
		if uint64(len(data)) != n.Size {
			return nil, fmt.Errorf("blob %s has %d bytes, the file node says %d: %w", n.Digest, len(data), n.Size, castore.ErrCorrupt)
		}
		return &contents{n: n, data: data}, nil
	}
	r, err := castore.OpenSized(ctx, blobs, n.Digest, n.Size)
	if err != nil {
		return nil, err
	}
	return &contents{n: n, r: r}, nil
}

func (c *contents) close() {
	if c.r != nil {
		c.r.Close()
	}
}

// writeTo writes the contents to w, and counts them into prog (if set).
func (c *contents) writeTo(w io.Writer, prog *Progress) error {
	if c.r == nil {
		if _, err := w.Write(c.data); err != nil {
			return err
		}
		prog.add(1, int64(len(c.data)))
		return nil
	}
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	got, err := copyBuffer(counting(w, prog), c.r, *buf)
	if err != nil {
		return fmt.Errorf("blob %s: %w", c.n.Digest, err)
	}
	if uint64(got) != c.n.Size {
		return fmt.Errorf("blob %s has %d bytes, the file node says %d: %w", c.n.Digest, got, c.n.Size, castore.ErrCorrupt)
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
	// The entries in path order, then written with the small files'
	// contents read ahead in batches where the store can.
	var entries []fileRef
	var walk func(dir *castore.Directory, rel string)
	walk = func(dir *castore.Directory, rel string) {
		for _, e := range dir.Entries() {
			p := rel + string(e.Name)
			entries = append(entries, fileRef{p, e.Node})
			if e.Node.Type == castore.NodeDirectory {
				walk(all[e.Node.Digest], p+"/")
			}
		}
	}
	walk(all[n.Digest], "./")
	o.Progress.setTotal(totalOf(entries))
	err = newReadAhead(ctx, blobs, entries).each(ctx, func(f fileRef, data []byte) error {
		switch f.node.Type {
		case castore.NodeDirectory:
			return tw.WriteHeader(hdr(f.path+"/", tar.TypeDir, 0o755))
		case castore.NodeSymlink:
			h := hdr(f.path, tar.TypeSymlink, 0o777)
			h.Linkname = f.node.Target
			return tw.WriteHeader(h)
		}
		mode := int64(0o644)
		if f.node.Executable {
			mode = 0o755
		}
		// The contents are checked before the header goes out: a tar
		// stream never holds a header it cannot finish.
		c, err := openContents(ctx, blobs, f.node, data)
		if err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		defer c.close()
		h := hdr(f.path, tar.TypeReg, mode)
		h.Size = int64(f.node.Size)
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		if err := c.writeTo(tw, o.Progress); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// copyBuffer copies with buf, hiding r's WriterTo and w's ReaderFrom so
// the buffer is used.
func copyBuffer(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, buf)
}
