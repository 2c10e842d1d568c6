package httpfront

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/castore-go/castore"
)

// serveTag answers /tags/NAME[:PATH]: the tag NAME is resolved on every
// request (Options.Refs), then served as its root's tree under
// /tags/NAME:. A tag's name may hold slashes but never ':', so the first
// ':' ends it. Nothing under /tags/ is immutable: responses say no-cache,
// and their ETags (the blob digests) still make revalidation cheap.
// ?resolve redirects to the immutable /b3/ URL of the same path.
func (h *Handler) serveTag(w http.ResponseWriter, r *http.Request, rest string) {
	if h.o.Refs == nil {
		h.fail(w, r, http.StatusNotImplemented, "this server serves no tags: use /b3/DIGEST/")
		return
	}
	name, treeRest, hasColon := strings.Cut(rest, ":")
	if !hasColon {
		name = strings.TrimSuffix(name, "/")
	}
	if err := castore.ValidateTagName(name); err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	tp, err := parseTreePath(treeRest)
	if hasColon && treeRest != "" && treeRest[0] != '/' {
		// NAME:path, the slash left out.
		tp, err = parseTreePath("/" + treeRest)
	}
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	tag, err := h.o.Refs.Get(r.Context(), name)
	switch {
	case errors.Is(err, castore.ErrNotFound):
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no tag %q is stored here", name))
		return
	case err != nil:
		h.storeError(w, r, err)
		return
	case tag.Expired(time.Now()):
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("tag %q expired at %s", name, tag.Expires.UTC().Format(time.RFC3339)))
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	prefix := "/tags/" + escapeSlashed(name) + ":"
	switch tag.Root.Type {
	case castore.NodeDirectory:
	case castore.NodeFile:
		if tp.path != "" || tp.slash {
			h.fail(w, r, http.StatusNotFound, fmt.Sprintf("tag %q names a file, which has no path below it", name))
			return
		}
		if _, ok := r.URL.Query()["resolve"]; ok {
			http.Redirect(w, r, "/blobs/"+tag.Root.Digest.Hex(), http.StatusFound)
			return
		}
		base := name[strings.LastIndexByte(name, '/')+1:]
		h.serveFile(w, r, base, tag.Root)
		return
	default:
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("tag %q names a symlink to %q, which is not served", name, tag.Root.Target))
		return
	}
	if !hasColon {
		// /tags/NAME: the root directory, whose URL ends in ":/".
		http.Redirect(w, r, prefix+"/", http.StatusFound)
		return
	}
	if q := r.URL.Query(); q.Has("resolve") {
		q.Del("resolve")
		u := tree{root: tag.Root.Digest, prefix: "/b3/" + tag.Root.Digest.Hex()}.url(tp.path, tp.slash)
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		http.Redirect(w, r, u, http.StatusFound)
		return
	}
	h.serveTreePath(w, r, tree{root: tag.Root.Digest, prefix: prefix}, tp)
}
