package ingest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/castore-go/castore"
)

// Decompress detects gzip, bzip2, xz and zstd from the first bytes of r and
// returns the decompressed stream (r itself, buffered, if it is none of
// them).
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(xr), nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxMemory(1<<30), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// smallFile is the size up to which archive members are read into memory
// and uploaded in parallel; larger ones upload as they are read.
const smallFile = 4 << 20

// ImportTar imports a tar archive (plain or compressed, detected from the
// bytes) and returns the root node.
//
// The root is the archive's single top-level directory, as in tvix, or the
// "." directory if the archive has one (as `tar -C dir .` makes). With
// o.Wrap, several top-level entries become the children of a root
// directory. Entries with absolute paths or "..", and entries that would
// go through a symlink or a file, are refused with an error naming the
// entry; hard links are imported as the file they link to. Nothing is put
// into the directory service unless the whole archive was read.
func ImportTar(ctx context.Context, blobs castore.BlobService, dirs castore.DirectoryService, r io.Reader, o Options) (castore.Node, error) {
	dr, err := Decompress(r)
	if err != nil {
		return castore.Node{}, fmt.Errorf("archive: %w", err)
	}
	defer dr.Close()
	u := newUploader(ctx, blobs, &o)
	t := newTree()
	hasDot := false
	tail := &tailReader{r: dr}
	readErr := func() error {
		tr := tar.NewReader(tail)
		for {
			if err := u.ctx.Err(); err != nil {
				return err
			}
			h, err := tr.Next()
			if err == io.EOF {
				if !tail.endsInZeroBlocks() {
					return errors.New("archive: truncated: it ends without the end-of-archive marker")
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("archive: %w", err)
			}
			p, isDot, err := entryPath(h.Name)
			if err != nil {
				return fmt.Errorf("archive entry %q: %w", h.Name, err)
			}
			hasDot = hasDot || isDot
			if err := addEntry(u, t, tr, h, p); err != nil {
				return fmt.Errorf("archive entry %q: %w", h.Name, err)
			}
		}
	}()
	upErr := u.wait()
	if readErr != nil {
		if upErr != nil && errors.Is(readErr, context.Canceled) {
			return castore.Node{}, upErr
		}
		return castore.Node{}, readErr
	}
	if upErr != nil {
		return castore.Node{}, upErr
	}

	root := t.root
	if !hasDot && !o.Wrap {
		if len(root.children) != 1 {
			var names []string
			for n := range root.children {
				names = append(names, string(n))
			}
			slices.Sort(names)
			if len(names) > 5 {
				names = append(names[:5], "...")
			}
			return castore.Node{}, fmt.Errorf("archive has %d top-level entries (%s), want one directory: use --wrap to make them the children of a root directory", len(root.children), strings.Join(names, ", "))
		}
		for _, only := range root.children {
			if !only.isDir {
				return castore.Node{}, fmt.Errorf("archive's only top-level entry is a %s, not a directory: use --wrap to import it inside a root directory", only.node.Type)
			}
			root = only
		}
	}
	return putClosure(ctx, dirs, root)
}

// entryPath validates an archive member name: relative, no "..", "./"
// prefixes and trailing slashes allowed. It reports whether the entry is
// the archive's "." itself.
func entryPath(name string) (castore.Path, bool, error) {
	if strings.HasPrefix(name, "/") {
		return "", false, errors.New("absolute paths are not allowed")
	}
	var parts []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return "", false, errors.New(`".." is not allowed`)
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 {
		return "", true, nil
	}
	p, err := castore.ParsePath(strings.Join(parts, "/"))
	return p, false, err
}

func addEntry(u *uploader, t *tree, tr *tar.Reader, h *tar.Header, p castore.Path) error {
	switch h.Typeflag {
	case tar.TypeDir:
		return t.addDir(p, h.Name)
	case tar.TypeSymlink:
		n := castore.SymlinkNode(h.Linkname)
		if err := n.Validate(); err != nil {
			return err
		}
		_, err := t.addLeaf(p, n, h.Name)
		return err
	case tar.TypeLink:
		target, _, err := entryPath(h.Linkname)
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", h.Linkname, err)
		}
		src := t.lookup(target)
		if src == nil || src.isDir || src.node.Type != castore.NodeFile {
			return fmt.Errorf("hard link to %q, which is not a file earlier in the archive", h.Linkname)
		}
		leaf, err := t.addLeaf(p, castore.FileNode(castore.Digest{}, 0, false), h.Name)
		if err != nil {
			return err
		}
		// The source's digest may still be uploading: resolve at the end.
		u.links = append(u.links, link{from: leaf, to: src})
		return nil
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont:
		exec := h.Mode&0o100 != 0
		leaf, err := t.addLeaf(p, castore.FileNode(castore.Digest{}, uint64(h.Size), exec), h.Name)
		if err != nil {
			return err
		}
		if h.Size > smallFile {
			d, err := u.upload(h.Name, tr, h.Size)
			leaf.node.Digest = d
			return err
		}
		held := u.acquire(h.Size)
		buf := make([]byte, h.Size)
		if _, err := io.ReadFull(tr, buf); err != nil {
			u.release(held)
			return fmt.Errorf("read: %w", err)
		}
		name := h.Name
		u.g.Go(func() error {
			defer u.release(held)
			d, err := u.uploadBytes(name, buf)
			leaf.node.Digest = d
			return err
		})
		return nil
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if u.skipSpecial {
			return nil
		}
		return fmt.Errorf("cannot import a device or fifo (use --skip-special to leave it out)")
	}
	return fmt.Errorf("unsupported entry type %q", h.Typeflag)
}

// link is a hard link whose node is copied from its target once all
// uploads are done.
type link struct{ from, to *node }

// tailReader remembers the last 1024 bytes read through it. archive/tar
// reads block by block and stops right after the two zero blocks that end
// an archive, so an archive that ends properly leaves them here; one cut
// off at an entry boundary does not (archive/tar takes that as a clean
// end).
type tailReader struct {
	r    io.Reader
	last [1024]byte
	n    int64
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n >= len(t.last) {
		copy(t.last[:], p[n-len(t.last):n])
	} else if n > 0 {
		copy(t.last[:], t.last[n:])
		copy(t.last[len(t.last)-n:], p[:n])
	}
	t.n += int64(n)
	return n, err
}

func (t *tailReader) endsInZeroBlocks() bool {
	if t.n < int64(len(t.last)) {
		return false
	}
	for _, b := range t.last {
		if b != 0 {
			return false
		}
	}
	return true
}
