package httpfront

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/castore-go/castore"
)

// Options configure a Handler.
type Options struct {
	// IndexNames are the files a directory request is answered with
	// instead of a listing, the first present (as snix's castore-http
	// --index-names). Only files count; a directory or symlink of that
	// name is passed over.
	IndexNames []string
	// AutoIndex lists directories that have none of IndexNames (as
	// castore-http --auto-index); without it such a request is 403
	// Forbidden, and so is a tar of it. Listings are what a person
	// browsing wants: `castore http` sets it unless told not to.
	AutoIndex bool
	// ReadAllowed, if set, is asked about the bearer token of every
	// request (Authorization: Bearer TOKEN, or TOKEN as the password of
	// Basic authentication, which browsers ask a person for): a request
	// without a token it allows is 401 Unauthorized. cmd/castore passes
	// the read role check of the server's grpcapi.Tokens.
	ReadAllowed func(token string) bool
	// ShareKey, if set, lets a request without a bearer token through
	// when it carries a share token for its path (see share.go), as the
	// links `castore share` prints do. It matters only with ReadAllowed.
	ShareKey *ShareKey
	// Refs, if set, serves tags under /tags/NAME:/path, each resolved per
	// request; without it /tags/ is 501 Not Implemented.
	Refs castore.RefService
	// CacheEntries bounds the directories kept in memory, in entries
	// (default DefaultCacheEntries).
	CacheEntries int
	// Logger gets the errors that end responses (default slog.Default()).
	Logger *slog.Logger
	// MeterProvider and TracerProvider instrument every request with
	// OpenTelemetry's HTTP server metrics and spans, and count the
	// responses broken off (default: the global providers).
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
}

// Handler serves trees and blobs over HTTP. See the package doc for its
// URLs.
type Handler struct {
	blobs castore.BlobService
	dirs  castore.DirectoryService
	o     Options
	cache *dirCache
	log   *slog.Logger
	m     *metrics
	inner http.Handler
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler over blobs and dirs.
func New(blobs castore.BlobService, dirs castore.DirectoryService, o Options) *Handler {
	h := &Handler{blobs: blobs, dirs: dirs, o: o, cache: newDirCache(dirs, o.CacheEntries), log: o.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.m = newMetrics(o.MeterProvider)
	var otelOpts []otelhttp.Option
	if o.MeterProvider != nil {
		otelOpts = append(otelOpts, otelhttp.WithMeterProvider(o.MeterProvider))
	}
	if o.TracerProvider != nil {
		otelOpts = append(otelOpts, otelhttp.WithTracerProvider(o.TracerProvider))
	}
	otelOpts = append(otelOpts, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + route(r.URL.Path)
	}))
	h.inner = otelhttp.NewHandler(http.HandlerFunc(h.serve), "castore.http", otelOpts...)
	return h
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.inner.ServeHTTP(w, r) }

// route is the part of a path that names what kind of thing it is, for
// span names: never a digest or a name.
func route(p string) string {
	for _, prefix := range []string{"/b3/", "/blobs/", "/tags/"} {
		if strings.HasPrefix(p, prefix) {
			return prefix
		}
	}
	return "/"
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		h.fail(w, r, http.StatusMethodNotAllowed, "only GET and HEAD are served")
		return
	}
	if h.o.ReadAllowed != nil && !h.authorized(w, r) {
		return
	}
	p := r.URL.Path
	if len(p) > MaxURLPath {
		h.fail(w, r, http.StatusRequestURITooLong, fmt.Sprintf("the path has %d bytes; at most %d are served", len(p), MaxURLPath))
		return
	}
	switch {
	case p == "/":
		h.serveHome(w, r)
	case p == "/b3" || p == "/b3/":
		h.serveGoto(w, r)
	case strings.HasPrefix(p, "/b3/"):
		h.serveTree(w, r, p[len("/b3/"):])
	case strings.HasPrefix(p, "/blobs/"):
		h.serveBlob(w, r, p[len("/blobs/"):])
	case strings.HasPrefix(p, "/tags/"):
		h.serveTag(w, r, p[len("/tags/"):])
	default:
		h.fail(w, r, http.StatusNotFound, "no such page: trees are under /b3/DIGEST/, blobs under /blobs/DIGEST")
	}
}

// authorized lets r through if its bearer token may read, or it carries a
// share token for its path; otherwise it answers 401, logs the refusal
// (never the token) and returns false.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok := bearerToken(r)
	if tok != "" && h.o.ReadAllowed(tok) {
		return true
	}
	shared, why := h.shareAllowed(w, r)
	if shared {
		return true
	}
	msg := "a bearer token with the read role is required"
	switch {
	case why != nil:
		msg = why.Error()
	case tok != "":
		msg = "the bearer token is not known, or may not read"
	}
	h.log.Warn("refused HTTP request", "remote", r.RemoteAddr, "route", route(r.URL.Path), "reason", msg, "token_given", tok != "")
	hdr := w.Header()
	hdr.Add("WWW-Authenticate", `Bearer realm="castore"`)
	hdr.Add("WWW-Authenticate", `Basic realm="castore", charset="UTF-8"`)
	h.fail(w, r, http.StatusUnauthorized, msg)
	return false
}

// bearerToken returns the token of "Authorization: Bearer TOKEN", or the
// password of Basic authentication (the user name is not looked at).
func bearerToken(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(strings.TrimSpace(auth), " "); ok && strings.EqualFold(scheme, "bearer") {
		return strings.TrimSpace(tok) // the scheme in any case (RFC 9110)
	}
	if _, pass, ok := r.BasicAuth(); ok {
		return pass
	}
	return ""
}

// serveTree answers /b3/DIGEST[/path].
func (h *Handler) serveTree(w http.ResponseWriter, r *http.Request, rest string) {
	root, n, err := parseDigest(rest)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	tp, err := parseTreePath(rest[n:])
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	t := tree{root: root, prefix: "/b3/" + escapeSlashed(rest[:n]), immutable: true}
	h.serveTreePath(w, r, t, tp)
}

// tree is the tree a request is in: its root, and the URL path it is
// served under (without a trailing slash). Trees under /b3/ never change.
type tree struct {
	root      castore.Digest
	prefix    string
	immutable bool
}

// url returns the URL of p in t, with a trailing slash for a directory.
func (t tree) url(p castore.Path, dir bool) string {
	u := t.prefix + "/" + escapePath(p)
	if dir && p != "" {
		u += "/"
	}
	return u
}

func (h *Handler) serveTreePath(w http.ResponseWriter, r *http.Request, t tree, tp treePath) {
	ctx := r.Context()
	res, err := h.resolve(ctx, t.root, tp.path)
	var loop errSymlinkLoop
	switch {
	case err == nil:
	case errors.As(err, &loop):
		h.fail(w, r, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, errNoRoot):
		msg := fmt.Sprintf("no directory %s is stored here", t.root)
		if ok, _ := h.blobs.Has(ctx, t.root); ok {
			msg += fmt.Sprintf("; a blob of that digest is, at /blobs/%s", t.root.Hex())
		}
		h.fail(w, r, http.StatusNotFound, msg)
		return
	case errors.Is(err, castore.ErrNotFound):
		h.fail(w, r, http.StatusNotFound, err.Error())
		return
	default:
		h.storeError(w, r, err)
		return
	}
	h.setCaching(w, t)
	switch {
	case res.outside:
		h.serveOutside(w, r, t, res)
		return
	case res.followed:
		u := t.url(res.path, res.node.Type == castore.NodeDirectory)
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, u, http.StatusFound)
		return
	}
	isDir := res.node.Type == castore.NodeDirectory
	if isDir != tp.slash && tp.path != "" || isDir && tp.path == "" && !tp.slash {
		// A directory's URL ends in a slash, so that the links in its
		// listing are relative to it; a file's does not.
		u := t.url(res.path, isDir)
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, u, http.StatusMovedPermanently)
		return
	}
	format := r.URL.Query().Get("format")
	if !isDir {
		if format != "" {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("?format=%s is for directories; %s is a file", format, showPath(res.path)))
			return
		}
		_, name := res.path.Split()
		h.serveFile(w, r, string(name), res.node)
		return
	}
	dir, err := h.cache.get(ctx, t.root, res.node.Digest)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	// The same URL is a listing in HTML or JSON, or an index file.
	w.Header().Add("Vary", "Accept")
	switch format {
	case "tar", "tar.zst":
		if !h.o.AutoIndex {
			h.fail(w, r, http.StatusForbidden, "this server does not list directories, nor send them as archives")
			return
		}
		h.serveTar(w, r, t, res, format == "tar.zst")
		return
	case "json":
		h.serveListing(w, r, t, res.path, dir, true)
		return
	case "":
	default:
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("?format=%q: want tar, tar.zst or json", format))
		return
	}
	if wantsJSON(r) {
		h.serveListing(w, r, t, res.path, dir, true)
		return
	}
	for _, name := range h.o.IndexNames {
		if n, ok := dir.Lookup(castore.PathComponent(name)); ok && n.Type == castore.NodeFile {
			h.serveFile(w, r, name, n)
			return
		}
	}
	h.serveListing(w, r, t, res.path, dir, false)
}

// setCaching marks responses from an immutable tree as cacheable for a
// year, by anyone.
func (h *Handler) setCaching(w http.ResponseWriter, t tree) {
	if t.immutable {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
}

// wantsJSON reports whether the request's Accept prefers JSON to HTML.
func wantsJSON(r *http.Request) bool {
	json, html := acceptQ(r, "application/json"), acceptQ(r, "text/html")
	return json > 0 && json > html
}

// acceptQ returns the quality the Accept header gives typ (0 if none).
// Wildcards are not counted: a browser's */* says nothing about JSON.
func acceptQ(r *http.Request, typ string) float64 {
	q := 0.0
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(mt), typ) {
				continue
			}
			pq := 1.0
			for p := range strings.SplitSeq(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
					if _, err := fmt.Sscanf(strings.TrimSpace(v), "%g", &pq); err != nil {
						pq = 0
					}
				}
			}
			q = max(q, pq)
		}
	}
	return q
}

// storeError answers for an error of the stores: 500, logged.
func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client is gone
	}
	h.log.Error("http: store error", "path", r.URL.Path, "err", err)
	code := http.StatusInternalServerError
	if errors.Is(err, context.DeadlineExceeded) {
		code = http.StatusGatewayTimeout
	}
	h.fail(w, r, code, err.Error())
}

// fail answers with an error page (or JSON for a client that asks for it).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	hdr := w.Header()
	// An error is never cached: a tree or blob missing now may be
	// uploaded the next moment (no negative caching), and a refusal
	// depends on who asks.
	hdr.Set("Cache-Control", "no-store")
	hdr.Del("ETag")
	hdr.Del("Content-Disposition")
	if wantsJSON(r) || r.URL.Query().Get("format") == "json" {
		hdr.Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, "{\"error\":%q}\n", msg)
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", pageCSP)
	w.WriteHeader(code)
	pageTemplates.ExecuteTemplate(w, "error", struct {
		Code  int
		Title string
		Msg   string
		Style template.CSS
	}{code, http.StatusText(code), msg, template.CSS(pageStyle)})
}
