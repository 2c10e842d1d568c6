package httpfront

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/castore-go/castore"
)

// maxRanges is the most ranges one request may ask for; more is 416
// (RFC 9110 section 14.2 lets a server refuse many small ranges).
const maxRanges = 64

// contentCSP is the Content-Security-Policy of every file served: the
// content of a tree runs, if at all, in an origin of its own, so a page
// in a tree cannot act as this server (read other trees with the
// credentials a browser keeps for it).
const contentCSP = "sandbox allow-scripts allow-forms allow-popups allow-downloads"

// serveFile answers with the file node n, called name (for its type and
// a download's file name).
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name string, n castore.Node) {
	ctx := r.Context()
	etag := `"` + n.Digest.String() + `"`
	w.Header().Set("ETag", etag)
	if notModified(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if tooManyRanges(r) {
		h.fail(w, r, http.StatusRequestedRangeNotSatisfiable, fmt.Sprintf("at most %d ranges are served at once", maxRanges))
		return
	}
	br, err := castore.OpenSized(ctx, h.blobs, n.Digest, n.Size)
	if err == nil {
		br, err = castore.CheckedSize(br, n.Digest, n.Size)
	}
	if err != nil {
		if errors.Is(err, castore.ErrNotFound) {
			err = fmt.Errorf("the tree names blob %s, which is not stored: %w", n.Digest, err)
		}
		h.storeError(w, r, err)
		return
	}
	h.send(w, r, name, n.Digest, br)
}

// serveBlob answers /blobs/DIGEST.
func (h *Handler) serveBlob(w http.ResponseWriter, r *http.Request, rest string) {
	d, n, err := parseDigest(rest)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if rest[n:] != "" {
		h.fail(w, r, http.StatusNotFound, "a blob has no path below it")
		return
	}
	etag := `"` + d.String() + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	if notModified(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if tooManyRanges(r) {
		h.fail(w, r, http.StatusRequestedRangeNotSatisfiable, fmt.Sprintf("at most %d ranges are served at once", maxRanges))
		return
	}
	br, err := h.blobs.Open(r.Context(), d)
	if errors.Is(err, castore.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no blob %s is stored here", d))
		return
	}
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	h.send(w, r, "", d, br)
}

// send serves the blob br (of digest d, which it closes) with Range and
// conditional requests handled by http.ServeContent. A read error (a
// chunk that fails verification) breaks the connection off: the client
// sees a truncated response, never a wrong byte.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, name string, d castore.Digest, br castore.BlobReader) {
	g := &guardedReader{r: br}
	defer g.Close()
	hdr := w.Header()
	ctype := typeByName(name)
	if ctype == "" {
		ctype = h.sniff(r.Context(), d, br)
	}
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Security-Policy", contentCSP)
	if r.URL.Query().Has("download") {
		fn := name
		if fn == "" {
			fn = d.Hex()
		}
		hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fn}))
	}
	http.ServeContent(w, r, "", time.Time{}, g)
	if err := g.failed(); err != nil {
		if r.Context().Err() == nil {
			h.log.Error("http: response broken off", "path", r.URL.Path, "blob", d.String(), "err", err)
			h.m.aborted(r.Context(), err)
		}
		panic(http.ErrAbortHandler)
	}
}

// sniff finds the type of a blob whose name says nothing, from its first
// 512 bytes. It reads them without the reader's read-ahead where the
// store can read the first chunk alone, so that a Range request for the
// end of a large file reads no more than the first chunk besides.
func (h *Handler) sniff(ctx context.Context, d castore.Digest, br castore.BlobReader) string {
	const sniffLen = 512
	if chunks, err := h.blobs.Chunks(ctx, d); err == nil && len(chunks) > 1 {
		if data, err := castore.ReadChunk(ctx, h.blobs, chunks[0]); err == nil {
			return http.DetectContentType(data[:min(len(data), sniffLen)])
		}
	}
	var buf [sniffLen]byte
	n, _ := br.ReadAt(buf[:], 0) // an error shows again when the bytes are sent
	return http.DetectContentType(buf[:n])
}

// textTypes are the types of names common in build outputs and logs
// that Go's table (and /etc/mime.types, which differs between machines)
// gets wrong or lacks: these are shown in the browser, as text.
var textTypes = map[string]string{
	".txt": "text/plain; charset=utf-8", ".log": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8",
	".nix": "text/plain; charset=utf-8", ".go": "text/plain; charset=utf-8", ".rs": "text/plain; charset=utf-8",
	".c": "text/plain; charset=utf-8", ".h": "text/plain; charset=utf-8", ".cc": "text/plain; charset=utf-8",
	".cpp": "text/plain; charset=utf-8", ".hpp": "text/plain; charset=utf-8", ".py": "text/plain; charset=utf-8",
	".sh": "text/plain; charset=utf-8", ".toml": "text/plain; charset=utf-8", ".yaml": "text/plain; charset=utf-8",
	".yml": "text/plain; charset=utf-8", ".ini": "text/plain; charset=utf-8", ".conf": "text/plain; charset=utf-8",
	".cfg": "text/plain; charset=utf-8", ".mk": "text/plain; charset=utf-8", ".diff": "text/plain; charset=utf-8",
	".patch": "text/plain; charset=utf-8", ".rst": "text/plain; charset=utf-8", ".proto": "text/plain; charset=utf-8",
	".csv": "text/csv; charset=utf-8", ".tsv": "text/tab-separated-values; charset=utf-8",
	".json": "application/json", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8", ".svg": "image/svg+xml",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".pdf": "application/pdf", ".wasm": "application/wasm", ".xml": "text/xml; charset=utf-8",
	".gz": "application/gzip", ".tgz": "application/gzip", ".zst": "application/zstd", ".xz": "application/x-xz",
	".bz2": "application/x-bzip2", ".tar": "application/x-tar", ".zip": "application/zip",
	".bin": "application/octet-stream", ".so": "application/octet-stream", ".a": "application/octet-stream",
	".o": "application/octet-stream", ".iso": "application/octet-stream", ".img": "application/octet-stream",
	".nar": "application/x-nix-archive", ".drv": "text/plain; charset=utf-8",
}

// typeByName returns the type of a file from its name's extension: the
// table above, else Go's (with /etc/mime.types); "" if neither knows it.
func typeByName(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		return ""
	}
	if t, ok := textTypes[ext]; ok {
		return t
	}
	return mime.TypeByExtension(ext)
}

// notModified reports whether the request's If-None-Match holds etag
// (weakly compared, as RFC 9110 section 13.1.2 says for it).
func notModified(r *http.Request, etag string) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for t := range strings.SplitSeq(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// tooManyRanges reports whether the Range header asks for more than
// maxRanges ranges.
func tooManyRanges(r *http.Request) bool {
	rh := r.Header.Get("Range")
	return strings.HasPrefix(rh, "bytes=") && strings.Count(rh, ",") >= maxRanges
}

// guardedReader is the blob reader ServeContent reads: it keeps the first
// read error, and serializes Close with reads (ServeContent reads a
// multi-range response from a goroutine that may outlive it).
type guardedReader struct {
	mu     sync.Mutex
	r      castore.BlobReader
	err    error
	closed bool
}

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errors.New("read after close")
	}
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF && g.err == nil {
		g.err = err
	}
	return n, err
}

func (g *guardedReader) Seek(off int64, whence int) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errors.New("seek after close")
	}
	return g.r.Seek(off, whence)
}

func (g *guardedReader) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *guardedReader) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	return g.r.Close()
}
