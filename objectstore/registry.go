package objectstore

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/castore-go/castore/internal/redact"
)

// Location is a parsed store URL, all that its backend needs to open the
// store.
type Location interface {
	// Open opens the store. It does not contact the service: a missing
	// bucket shows up on the first call.
	Open(ctx context.Context) (Store, error)
	// String returns the URL, as ParseURL accepts it.
	String() string
}

// Backend is one URL scheme: the parameters its URLs take and how one is
// parsed into a Location. Each backend package has one (s3store.Backend
// and so on); a Registry holds those a program opens.
type Backend struct {
	// Scheme is the URL scheme, "s3".
	Scheme string
	// Form is how the scheme's URLs start, for messages: "s3://",
	// "file:///".
	Form string
	// Params are the query parameters its URLs may have, each once.
	Params []string
	// Parse checks a URL of the scheme and returns its location. It sees
	// only URLs without user info, fragment or opaque part whose query q
	// parses; the registry refuses parameters not in Params afterwards.
	// Its errors say what is wrong without repeating the URL (the
	// registry adds the redacted URL) and wrap nothing that might.
	Parse func(u *url.URL, q url.Values) (Location, error)
}

// Registry opens stores from URLs with the backends it was given.
type Registry struct {
	backends []Backend
}

// NewRegistry returns a registry of backends. A scheme given twice, or
// none, panics.
func NewRegistry(backends ...Backend) *Registry {
	r := &Registry{}
	for _, b := range backends {
		if b.Scheme == "" || b.Parse == nil {
			panic("objectstore: a backend without a scheme or a Parse")
		}
		if _, ok := r.backend(b.Scheme); ok {
			panic("objectstore: scheme " + b.Scheme + " registered twice")
		}
		r.backends = append(r.backends, b)
	}
	return r
}

func (r *Registry) backend(scheme string) (Backend, bool) {
	i := slices.IndexFunc(r.backends, func(b Backend) bool { return b.Scheme == scheme })
	if i < 0 {
		return Backend{}, false
	}
	return r.backends[i], true
}

// Open opens the store rawURL names with the backend of its scheme (see
// each backend's package for its URLs and credentials). Credentials in the
// URL itself are refused. Open does not contact the service: a missing
// bucket shows up on the first call. Errors name the problem but never
// repeat the URL's user info or query values.
func (r *Registry) Open(ctx context.Context, rawURL string) (Store, error) {
	loc, err := r.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return loc.Open(ctx)
}

// ParseURL parses and checks a store URL without opening it: everything
// that can be checked without the network. See Open.
func (r *Registry) ParseURL(rawURL string) (Location, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, credentials and all.
		return nil, fmt.Errorf("objectstore URL %q: not a valid URL", redact.URL(rawURL, nil))
	}
	where := redact.URL(rawURL, nil)
	fail := func(format string, args ...any) (Location, error) {
		return nil, fmt.Errorf("objectstore URL %q: %s", where, fmt.Sprintf(format, args...))
	}
	if u.User != nil {
		return fail("credentials in the URL are not supported; use the environment or the SDK's configuration")
	}
	if u.Fragment != "" || strings.HasSuffix(rawURL, "#") {
		return fail("a fragment (#...) is not allowed")
	}
	if u.Opaque != "" {
		return fail("write %s:// followed by a location", u.Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("malformed query")
	}
	b, ok := r.backend(u.Scheme)
	if !ok {
		if u.Scheme == "" {
			return fail("no scheme: use %s", r.list(func(b Backend) string { return b.Form }))
		}
		return fail("unknown scheme %q: use %s", u.Scheme, r.list(func(b Backend) string { return b.Scheme }))
	}
	loc, err := b.Parse(u, q)
	if err != nil {
		return fail("%s", err)
	}
	for name, vs := range q {
		if !slices.Contains(b.Params, name) {
			return fail("unknown parameter %q", name)
		}
		if len(vs) > 1 {
			return fail("parameter %q given more than once", name)
		}
	}
	return loc, nil
}

// list names the registered backends, "a, b or c", by name.
func (r *Registry) list(name func(Backend) string) string {
	var names []string
	for _, b := range r.backends {
		names = append(names, name(b))
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
