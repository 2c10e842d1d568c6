package httpfront

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/castore-go/castore"
)

// listingVersion is in the ETag of listings, so that a new look is not
// answered with 304 from an old one.
const listingVersion = "1"

// pageStyle is the one style sheet of every page, inline; pageCSP allows
// it by its hash and nothing else: no script, no frame, no other origin.
const pageStyle = `
:root { color-scheme: light dark; --fg: #1f2328; --mute: #656d76; --line: #d0d7de; --alt: #f6f8fa; --link: #0969da; --hi: #fff8c5; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --mute: #8d96a0; --line: #30363d; --alt: #161b22; --link: #4493f8; --hi: #3b2e00; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0 auto; padding: 1em 1.5em 3em; max-width: 72em; }
a { color: var(--link); text-decoration: none; } a:hover { text-decoration: underline; }
h1 { font-size: 1.25em; font-weight: 600; margin: .2em 0 .4em; word-break: break-all; }
h1 .sep { color: var(--mute); padding: 0 .25em; }
.meta { color: var(--mute); margin: 0 0 .8em; display: flex; flex-wrap: wrap; gap: .4em 1.2em; align-items: center; }
.meta form { display: inline-flex; gap: .3em; margin-left: auto; }
.meta input { font: inherit; padding: .15em .4em; border: 1px solid var(--line); border-radius: 4px; background: transparent; color: inherit; }
.meta button { font: inherit; padding: .15em .6em; border: 1px solid var(--line); border-radius: 4px; background: var(--alt); color: inherit; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
col.size { width: 7.5em; } col.kind { width: 7em; } col.mode { width: 7.5em; } col.target { width: 30%; }
th { text-align: left; font-weight: 600; border-bottom: 2px solid var(--line); padding: .35em .6em; position: sticky; top: 0; background: Canvas; white-space: nowrap; }
td { padding: .2em .6em; border-bottom: 1px solid var(--line); vertical-align: top; }
tbody tr:nth-child(even) { background: var(--alt); }
tbody tr:hover { background: var(--hi); }
td.name { overflow-wrap: anywhere; }
td.size, th.size { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.mode { white-space: nowrap; color: var(--mute); }
td.kind { white-space: nowrap; }
tr.dir td.name a { font-weight: 600; }
tr.exec td.name a { color: #1a7f37; }
td.target { color: var(--mute); overflow-wrap: anywhere; }
.outside { color: var(--mute); font-style: italic; }
.err { border-left: 4px solid #cf222e; padding: .4em 1em; background: var(--alt); }
`

var pageCSP = "default-src 'none'; style-src '" + styleHash() + "'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func styleHash() string {
	h := sha256.Sum256([]byte(pageStyle))
	return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
}

var pageTemplates = template.Must(template.New("").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title><style>{{.Style}}</style></head>
<body>{{end}}

{{define "error"}}{{template "head" .}}
<h1>{{.Code}} {{.Title}}</h1>
<p class="err">{{.Msg}}</p>
<p><a href="/">castore</a></p>
</body></html>
{{end}}

{{define "home"}}{{template "head" .}}
<h1>castore</h1>
<p>Trees are at <code>/b3/DIGEST/</code>, a file of one at <code>/b3/DIGEST/path/to/file</code>, a blob at <code>/blobs/DIGEST</code>.
DIGEST is as <code>castore import</code> prints it (<code>b3:</code> and base64), URL-safe base64 or hex.</p>
<form method="get" action="/b3/"><input name="d" size="60" placeholder="b3:..." aria-label="digest"> <button>Open</button></form>
</body></html>
{{end}}

{{define "listing-top"}}{{template "head" .}}
<h1><a href="{{.RootHref}}" title="{{.Digest}}">{{.ShortDigest}}</a>{{range .Crumbs}}<span class="sep">/</span><a href="{{.Href}}">{{.Name}}</a>{{end}}<span class="sep">/</span></h1>
<div class="meta"><span>{{.Summary}}</span>
<span>download <a href="?format=tar" download>.tar</a> · <a href="?format=tar.zst" download>.tar.zst</a> · <a href="?format=json">JSON</a></span>
<form method="get"><input type="search" name="q" value="{{.Query}}" placeholder="filter names" aria-label="filter names">{{if .Sort}}<input type="hidden" name="sort" value="{{.Sort}}">{{end}}{{if .Desc}}<input type="hidden" name="order" value="desc">{{end}}<button>Filter</button></form></div>
<table><colgroup><col class="name"><col class="size"><col class="kind"><col class="mode"><col class="target"></colgroup>
<thead><tr>{{range .Cols}}<th class="{{.Class}}">{{if .Href}}<a href="{{.Href}}">{{.Label}}</a>{{.Arrow}}{{else}}{{.Label}}{{end}}</th>{{end}}</tr></thead>
<tbody>
{{if .Parent}}<tr class="dir"><td class="name"><a href="../">../</a></td><td class="size"></td><td class="kind">parent</td><td class="mode"></td><td class="target"></td></tr>
{{end}}{{end}}

{{define "listing-bottom"}}</tbody></table>
</body></html>
{{end}}
`))

type crumb struct{ Name, Href string }

type column struct {
	Label, Class, Href, Arrow string
}

type row struct {
	Name, Href, Title, Class string
	Size, SizeTitle          string
	Kind, Mode, Target       string
}

type listingPage struct {
	Title, ShortDigest, Digest, RootHref string
	Style                                template.CSS
	Crumbs                               []crumb
	Summary                              string
	Query, Sort                          string
	Desc, Parent                         bool
	Cols                                 []column
	Rows                                 iter.Seq[row]
}

// sortKeys are the columns a listing sorts by, ?sort=KEY&order=desc.
var sortKeys = []string{"name", "size", "kind"}

// serveListing answers with the listing of dir, at path p of tree t: HTML,
// or JSON if asJSON.
func (h *Handler) serveListing(w http.ResponseWriter, r *http.Request, t tree, p castore.Path, dir *castore.Directory, asJSON bool) {
	if !h.o.AutoIndex {
		h.fail(w, r, http.StatusForbidden, "this server does not list directories")
		return
	}
	hdr := w.Header()
	variant := "html"
	if asJSON {
		variant = "json"
	}
	d := dir.Digest()
	etag := `"` + d.String() + "-" + variant + listingVersion + `"`
	hdr.Set("ETag", etag)
	if notModified(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if asJSON {
		hdr.Set("Content-Type", "application/json")
		if r.Method == http.MethodHead {
			return
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		writeJSONListing(bw, d, p, dir)
		bw.Flush()
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", pageCSP)
	if r.Method == http.MethodHead {
		return
	}
	// The page around the rows is html/template's; the rows, thousands
	// of them, are written by writeRow, which escapes each value itself:
	// through the template they cost 60 allocations each, and 300 ms for
	// 20,000.
	bw := bufio.NewWriterSize(w, 64<<10)
	pg := h.listingPage(r.URL.Query(), t, p, dir)
	if err := pageTemplates.ExecuteTemplate(bw, "listing-top", pg); err != nil {
		h.log.Debug("http: listing", "path", r.URL.Path, "err", err)
		return
	}
	var buf []byte
	for rw := range pg.Rows {
		buf = appendRow(buf[:0], &rw)
		if _, err := bw.Write(buf); err != nil {
			return
		}
	}
	if err := pageTemplates.ExecuteTemplate(bw, "listing-bottom", pg); err != nil {
		return
	}
	bw.Flush()
}

// listingPage is what the listing template shows of dir.
func (h *Handler) listingPage(q url.Values, t tree, p castore.Path, dir *castore.Directory) listingPage {
	sortBy := q.Get("sort")
	if !slices.Contains(sortKeys, sortBy) {
		sortBy = "name"
	}
	desc := q.Get("order") == "desc"
	filter := q.Get("q")
	digest := t.root.String()
	pg := listingPage{
		Digest:      digest,
		ShortDigest: digest[:min(len(digest), 14)] + "…",
		RootHref:    t.url("", true),
		Style:       template.CSS(pageStyle),
		Query:       filter,
		Desc:        desc,
		Parent:      p != "",
	}
	if sortBy != "name" {
		pg.Sort = sortBy
	}
	pg.Title = digest[:min(len(digest), 14)] + "…" + showPath(p)
	var walked castore.Path
	for _, c := range p.Components() {
		walked = walked.Join(c)
		pg.Crumbs = append(pg.Crumbs, crumb{Name: string(c), Href: t.url(walked, true)})
	}
	// Which entries, in which order.
	entries := dir.Entries()
	order := make([]int32, 0, len(entries))
	lower := strings.ToLower(filter)
	for i, e := range entries {
		if filter == "" || strings.Contains(strings.ToLower(string(e.Name)), lower) {
			order = append(order, int32(i))
		}
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		ea, eb := &entries[a], &entries[b]
		c := 0
		switch sortBy {
		case "size":
			c = cmp.Or(cmp.Compare(kindRank(ea.Node), kindRank(eb.Node)), cmp.Compare(ea.Node.Size, eb.Node.Size))
		case "kind":
			c = cmp.Compare(kindRank(ea.Node), kindRank(eb.Node))
		}
		if c == 0 {
			c = cmp.Compare(ea.Name, eb.Name)
		}
		if desc {
			c = -c
		}
		return c
	})
	var files, dirs, links int
	var bytes uint64
	for _, e := range entries {
		switch e.Node.Type {
		case castore.NodeDirectory:
			dirs++
		case castore.NodeFile:
			files++
			bytes += e.Node.Size
		default:
			links++
		}
	}
	pg.Summary = fmt.Sprintf("%s, %s (%s), %s", plural(dirs, "directory", "directories"), plural(files, "file", "files"), humanBytes(bytes), plural(links, "symlink", "symlinks"))
	if filter != "" {
		pg.Summary = fmt.Sprintf("%d of %d entries match", len(order), len(entries))
	}
	for _, c := range []struct{ key, label, class string }{{"name", "Name", ""}, {"size", "Size", "size"}, {"kind", "Kind", ""}, {"", "Mode", ""}, {"", "Target", ""}} {
		col := column{Label: c.label, Class: c.class}
		if c.key != "" {
			v := url.Values{}
			if c.key != "name" {
				v.Set("sort", c.key)
			}
			if c.key == sortBy {
				if desc {
					col.Arrow = " ↓"
				} else {
					col.Arrow = " ↑"
					v.Set("order", "desc")
				}
			}
			if filter != "" {
				v.Set("q", filter)
			}
			col.Href = "?" + v.Encode()
			if col.Href == "?" {
				col.Href = "./"
			}
		}
		pg.Cols = append(pg.Cols, col)
	}
	pg.Rows = func(yield func(row) bool) {
		for _, i := range order {
			if !yield(listingRow(p, &entries[i])) {
				return
			}
		}
	}
	return pg
}

// appendRow appends the <tr> of r, every value HTML-escaped (hrefs are
// escaped as URL paths first: they hold no quote or space then either).
func appendRow(b []byte, r *row) []byte {
	b = append(b, `<tr class="`...)
	b = appendEscaped(b, r.Class)
	b = append(b, `"><td class="name">`...)
	if r.Href != "" {
		b = append(b, `<a href="`...)
		b = appendEscaped(b, r.Href)
		b = append(b, `" title="`...)
		b = appendEscaped(b, r.Title)
		b = append(b, `">`...)
		b = appendEscaped(b, r.Name)
		b = append(b, `</a>`...)
	} else {
		b = append(b, `<span class="outside" title="`...)
		b = appendEscaped(b, r.Title)
		b = append(b, `">`...)
		b = appendEscaped(b, r.Name)
		b = append(b, `</span>`...)
	}
	b = append(b, `</td><td class="size" title="`...)
	b = appendEscaped(b, r.SizeTitle)
	b = append(b, `">`...)
	b = appendEscaped(b, r.Size)
	b = append(b, `</td><td class="kind">`...)
	b = appendEscaped(b, r.Kind)
	b = append(b, `</td><td class="mode mono">`...)
	b = appendEscaped(b, r.Mode)
	b = append(b, `</td><td class="target">`...)
	b = appendEscaped(b, r.Target)
	return append(b, "</td></tr>\n"...)
}

// appendEscaped appends s with the characters that mean something in HTML
// text or a quoted attribute escaped, as html/template escapes them; NUL
// becomes U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '+':
			esc = "&#43;"
		case 0:
			esc = "\uFFFD"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

func kindRank(n castore.Node) int {
	switch n.Type {
	case castore.NodeDirectory:
		return 0
	case castore.NodeFile:
		return 1
	}
	return 2
}

// listingRow is one entry of a listing of the directory at p.
func listingRow(p castore.Path, e *castore.Entry) row {
	name := string(e.Name)
	href := "./" + url.PathEscape(name)
	n := e.Node
	switch n.Type {
	case castore.NodeDirectory:
		return row{Name: name + "/", Href: href + "/", Title: n.Digest.String(), Class: "dir",
			Size: plural(int(n.Size), "node", "nodes"), SizeTitle: "entries in this directory and below", Kind: "directory", Mode: "drwxr-xr-x"}
	case castore.NodeFile:
		rw := row{Name: name, Href: href, Title: n.Digest.String(), Class: "file",
			Size: humanBytes(n.Size), SizeTitle: strconv.FormatUint(n.Size, 10) + " bytes", Kind: "file", Mode: "-r--r--r--"}
		if n.Executable {
			rw.Class, rw.Kind, rw.Mode = "file exec", "executable", "-r-xr-xr-x"
		}
		return rw
	}
	rw := row{Name: name, Href: href, Title: "symlink to " + n.Target, Class: "link", Kind: "symlink", Mode: "lrwxrwxrwx", Target: "→ " + n.Target}
	if leavesTree(p, n.Target) {
		rw.Href, rw.Class = "", "link outside"
		rw.Title += ", outside this tree: not followed"
		rw.Target += " (outside this tree)"
	}
	return rw
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// humanBytes is n in binary units, as a listing shows sizes.
func humanBytes(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + " B"
	}
	f := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

// jsonEntry is one entry of a JSON listing: the fields of its node that
// belong to its type, named as in tvix's protobuf. A directory's size is
// its Directory.Size (the nodes below it), a file's its length in bytes.
type jsonEntry struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Digest     *castore.Digest `json:"digest,omitempty"`
	Size       *uint64         `json:"size,omitempty"`
	Executable bool            `json:"executable,omitempty"`
	Target     string          `json:"target,omitempty"`
}

// writeJSONListing writes {"digest": ..., "path": ..., "entries": [...]},
// entry by entry.
func writeJSONListing(w *bufio.Writer, d castore.Digest, p castore.Path, dir *castore.Directory) {
	head, _ := json.Marshal(struct {
		Digest castore.Digest `json:"digest"`
		Path   string         `json:"path"`
	}{d, string(p)})
	w.Write(head[:len(head)-1])
	w.WriteString(`,"entries":[`)
	enc := json.NewEncoder(w)
	for i, e := range dir.Entries() {
		if i > 0 {
			w.WriteByte(',')
		}
		je := jsonEntry{Name: string(e.Name), Type: e.Node.Type.String()}
		switch e.Node.Type {
		case castore.NodeDirectory, castore.NodeFile:
			digest, size := e.Node.Digest, e.Node.Size
			je.Digest, je.Size, je.Executable = &digest, &size, e.Node.Executable
		case castore.NodeSymlink:
			je.Target = e.Node.Target
		}
		enc.Encode(je) // ends in a newline, which JSON allows between tokens
	}
	w.WriteString("]}\n")
}

// serveOutside answers for a symlink whose target leaves the tree: it is
// shown, not followed.
func (h *Handler) serveOutside(w http.ResponseWriter, r *http.Request, t tree, res resolved) {
	h.fail(w, r, http.StatusNotFound, fmt.Sprintf("%s is a symlink to %q, which is outside this tree: it is not followed", showPath(res.link), res.node.Target))
}

// serveHome answers / with what the URLs are.
func (h *Handler) serveHome(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	pageTemplates.ExecuteTemplate(w, "home", struct {
		Title string
		Style template.CSS
	}{"castore", template.CSS(pageStyle)})
}

// serveGoto answers /b3/?d=DIGEST (the home page's form) with a redirect
// to the tree.
func (h *Handler) serveGoto(w http.ResponseWriter, r *http.Request) {
	// A "+" typed into a URL by hand arrives as a space: a digest has none.
	text := strings.ReplaceAll(strings.TrimSpace(r.URL.Query().Get("d")), " ", "+")
	if text == "" {
		h.serveHome(w, r)
		return
	}
	_, n, err := parseDigest(text)
	if err != nil || n != len(text) {
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not a digest: want b3:BASE64, URL-safe base64 or 64 hex characters", clip(text)))
		return
	}
	http.Redirect(w, r, "/b3/"+escapeSlashed(text)+"/", http.StatusFound)
}
