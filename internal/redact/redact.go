package redact

import (
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Placeholder stands for what was hidden: the user info, or a query value.
const Placeholder = "<redacted>"

// maxLen bounds what URL returns, before its "...".
const maxLen = 200

// URL returns what an error message or a log line may show of rawURL: its
// scheme, host and path; Placeholder in place of any user info; the names
// of its query parameters in order, each value Placeholder unless show
// says that parameter's value may be shown (a nil show shows none) and it
// holds no '@' (a URL with user info, say); no fragment. Opaque URLs ("s3:bucket") show as "scheme:...", and a URL that
// does not parse shows only its scheme, "scheme:(unparsable)", as the rest
// of it may hold anything. At most 200 bytes are kept, then "...".
func URL(rawURL string, show func(param string) bool) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		scheme, _, ok := strings.Cut(rawURL, ":")
		if !ok || !schemeRE.MatchString(scheme) {
			return "(unparsable)"
		}
		return scheme + ":(unparsable)"
	}
	if u.Opaque != "" {
		return truncate(u.Scheme + ":...")
	}
	shown := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil {
		// A stand-in that url.URL writes as is, replaced below: it
		// would escape '<' and '>'.
		shown.User = url.User("REDACTED")
	}
	s := strings.Replace(shown.String(), "//REDACTED@", "//"+Placeholder+"@", 1)
	if u.RawQuery != "" {
		s += "?" + query(u.RawQuery, show)
	}
	return truncate(s)
}

// query writes the parameters of a raw query, with the values show does
// not allow hidden. A query that does not parse shows as "...".
func query(raw string, show func(string) bool) string {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "..."
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(q)) {
		shownName := url.QueryEscape(name)
		if !nameRE.MatchString(name) {
			// Not a parameter's name but something else in its place
			// (a malformed URL: "?://user:password@host"), which may
			// hold anything.
			shownName = Placeholder
		}
		for _, v := range q[name] {
			if show == nil || shownName == Placeholder || !show(name) || strings.Contains(v, "@") {
				v = Placeholder
			} else {
				v = url.QueryEscape(v)
			}
			parts = append(parts, shownName+"="+v)
		}
	}
	return strings.Join(parts, "&")
}

func truncate(s string) string {
	if len(s) > maxLen {
		return s[:maxLen] + "..."
	}
	return s
}

// nameRE is what a query parameter's name must look like to be shown.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)

var schemeRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]{0,30}$`)

// NotSecret reports whether a parameter's name does not say it holds a
// secret: it names no secret, token, password or key ("key" alone, the
// file of a TLS key, is a path). It is the rule for service addresses,
// whose parameters are many and mostly harmless.
func NotSecret(param string) bool {
	p := strings.ToLower(param)
	for _, s := range []string{"secret", "token", "password"} {
		if strings.Contains(p, s) {
			return false
		}
	}
	return p == "key" || !strings.Contains(p, "key")
}
