package httpfront

import (
	"bufio"
	"mime"
	"net/http"

	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore/ingest"
)

// serveTar answers ?format=tar (or tar.zst) with the directory of res as
// ingest.ExportTar writes it: "./" first, entries in path order, fixed
// times and owners, so the same tree is always the same bytes (and
// castore import reads it back to the same digest). The stream is
// written as it is read; an error midway breaks the connection off, so a
// client never takes a truncated archive for a whole one.
func (h *Handler) serveTar(w http.ResponseWriter, r *http.Request, t tree, res resolved, compressed bool) {
	name := t.root.Hex()[:16]
	if res.path != "" {
		_, last := res.path.Split()
		name = string(last)
	}
	ctype, ext := "application/x-tar", ".tar"
	if compressed {
		ctype, ext = "application/zstd", ".tar.zst"
	}
	variant := "tar"
	if compressed {
		variant = "tarzst"
	}
	etag := `"` + res.node.Digest.String() + "-" + variant + `"`
	hdr := w.Header()
	hdr.Set("ETag", etag)
	if notModified(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ext}))
	if r.Method == http.MethodHead {
		return
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	// The directories come through the cache, which finds the
	// subdirectories of t on any store (one that addresses only roots
	// too), not from dirs directly.
	dirs := treeView{h.cache, t.root}
	var err error
	if compressed {
		var zw *zstd.Encoder
		zw, err = zstd.NewWriter(bw, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err == nil {
			err = ingest.ExportTar(r.Context(), h.blobs, dirs, res.node, zw, ingest.ExportOptions{})
			if cerr := zw.Close(); err == nil {
				err = cerr
			}
		}
	} else {
		err = ingest.ExportTar(r.Context(), h.blobs, dirs, res.node, bw, ingest.ExportOptions{})
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		if r.Context().Err() == nil {
			h.log.Error("http: tar broken off", "path", r.URL.Path, "err", err)
			h.m.aborted(r.Context(), err)
		}
		panic(http.ErrAbortHandler)
	}
}
