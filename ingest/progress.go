package ingest

import (
	"io"
	"sync/atomic"

	"github.com/castore-go/castore"
)

// Progress counts the files (blobs, for a copy) and bytes an import,
// export or copy has done so far: stored, written or copied, or found
// there already. It is safe to read while the work runs.
type Progress struct {
	Files atomic.Int64
	Bytes atomic.Int64
	// TotalFiles and TotalBytes are what the work comes to in all, set
	// before any data moves by an export or a copy, which know it once
	// they have read the closure; 0 while it is not known, and for an
	// import, which learns its tree as it goes.
	TotalFiles atomic.Int64
	TotalBytes atomic.Int64
}

// setTotal records what the work comes to; a nil Progress records nothing.
func (p *Progress) setTotal(files, bytes int64) {
	if p != nil {
		p.TotalFiles.Store(files)
		p.TotalBytes.Store(bytes)
	}
}

// add counts files and bytes done; a nil Progress counts nothing.
func (p *Progress) add(files, bytes int64) {
	if p != nil {
		p.Files.Add(files)
		p.Bytes.Add(bytes)
	}
}

// progressWriter counts into p the bytes written through it.
type progressWriter struct {
	w io.Writer
	p *Progress
}

func (pw progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.Bytes.Add(int64(n))
	return n, err
}

// counting returns w, counting into p if p is set.
func counting(w io.Writer, p *Progress) io.Writer {
	if p == nil {
		return w
	}
	return progressWriter{w, p}
}

// totalOf is what writing refs comes to: its files and their bytes.
func totalOf(refs []fileRef) (files, bytes int64) {
	for _, f := range refs {
		if f.node.Type == castore.NodeFile {
			files++
			bytes += int64(f.node.Size)
		}
	}
	return files, bytes
}
