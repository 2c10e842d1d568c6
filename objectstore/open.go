package objectstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/castore-go/castore/internal/redact"
)

// Location is a parsed store URL. ParseURL checks everything that can be
// checked without the network.
type Location struct {
	// Scheme is "s3", "gs", "file" or "memory".
	Scheme string
	// Bucket and Prefix locate an s3 or gs store; Prefix has no leading
	// or trailing '/'.
	Bucket, Prefix string
	// Region, Endpoint and ForcePathStyle configure an s3 store. Empty
	// Region and Endpoint leave them to the SDK's configuration.
	Region, Endpoint string
	ForcePathStyle   bool
	// Path is the directory of a file store, absolute and clean; Sync its
	// sync mode (the "sync" parameter: group, each or none).
	Path string
	Sync FileSync
}

// Open opens the store url names:
//
//	s3://bucket/prefix?region=..&endpoint=..&force_path_style=true
//	gs://bucket/prefix
//	file:///abs/path[?sync=group|each|none]
//	memory://
//
// S3 credentials come from the AWS SDK's default chain (environment,
// shared config, web identity, instance metadata) and GCS credentials from
// Application Default Credentials, with STORAGE_EMULATOR_HOST honoured.
// Credentials in the URL itself are refused. Open does not contact the
// service: a missing bucket shows up on the first call. Errors name the
// problem but never repeat the URL's user info or query values.
func Open(ctx context.Context, rawURL string) (Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch loc.Scheme {
	case "memory":
		return NewMemory(), nil
	case "file":
		return NewFile(loc.Path, &FileOptions{Sync: loc.Sync})
	case "s3":
		return openS3(ctx, loc)
	case "gs":
		return openGCS(ctx, loc)
	}
	panic("unreachable: ParseURL returned scheme " + loc.Scheme)
}

// ParseURL parses and checks a store URL without opening it. See Open.
func ParseURL(rawURL string) (Location, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, credentials and all.
		return Location{}, fmt.Errorf("objectstore URL %q: not a valid URL", redact.URL(rawURL, nil))
	}
	where := redact.URL(rawURL, nil)
	fail := func(format string, args ...any) (Location, error) {
		return Location{}, fmt.Errorf("objectstore URL %q: %s", where, fmt.Sprintf(format, args...))
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
	loc := Location{Scheme: u.Scheme}
	var allowed []string
	switch u.Scheme {
	case "memory":
		if u.Host != "" || (u.Path != "" && u.Path != "/") {
			return fail("memory:// takes no host or path")
		}
	case "file":
		allowed = []string{"sync"}
		if u.Host != "" && u.Host != "localhost" {
			return fail("file URL has a host; write file:///absolute/path")
		}
		if !strings.HasPrefix(u.Path, "/") {
			return fail("file URL needs an absolute path")
		}
		if strings.ContainsRune(u.Path, 0) {
			return fail("path contains a NUL byte")
		}
		loc.Path = cleanPath(u.Path)
		switch v := q.Get("sync"); v {
		case "", "group":
			loc.Sync = SyncGroup
		case "each":
			loc.Sync = SyncEach
		case "none":
			loc.Sync = SyncNone
		default:
			return fail("sync must be group, each or none")
		}
	case "s3", "gs":
		if u.Host == "" {
			return fail("no bucket: write %s://bucket/prefix", u.Scheme)
		}
		if u.Port() != "" || strings.Contains(u.Host, ":") {
			return fail("bucket name contains ':'")
		}
		if !validBucket(u.Scheme, u.Host) {
			return fail("%q is not a valid bucket name", u.Host)
		}
		loc.Bucket = u.Host
		prefix, err := basePrefix(strings.TrimPrefix(u.Path, "/"))
		if err != nil {
			return fail("%v", err)
		}
		loc.Prefix = strings.TrimSuffix(prefix, "/")
		if u.Scheme == "s3" {
			allowed = []string{"region", "endpoint", "force_path_style"}
			loc.Region = q.Get("region")
			if loc.Region != "" && !regionRE.MatchString(loc.Region) {
				return fail("region is not a region name (lowercase letters, digits and '-')")
			}
			if v := q.Get("endpoint"); v != "" {
				e, err := url.Parse(v)
				if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || e.User != nil || e.RawQuery != "" || e.Fragment != "" {
					return fail("endpoint must be an http:// or https:// URL with a host and nothing after the path")
				}
				loc.Endpoint = v
			}
			if v := q.Get("force_path_style"); v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fail("force_path_style must be true or false")
				}
				loc.ForcePathStyle = b
			}
		}
	case "":
		return fail("no scheme: use s3://, gs://, file:/// or memory://")
	default:
		return fail("unknown scheme %q: use s3, gs, file or memory", u.Scheme)
	}
	for name, vs := range q {
		if !contains(allowed, name) {
			return fail("unknown parameter %q", name)
		}
		if len(vs) > 1 {
			return fail("parameter %q given more than once", name)
		}
	}
	return loc, nil
}

// String returns the URL of the location, as ParseURL accepts it.
func (l Location) String() string {
	u := url.URL{Scheme: l.Scheme}
	q := url.Values{}
	switch l.Scheme {
	case "memory":
		return "memory://"
	case "file":
		switch l.Sync {
		case SyncEach:
			q.Set("sync", "each")
		case SyncNone:
			q.Set("sync", "none")
		}
		// url.URL drops the empty authority of file:///path.
		return "file://" + (&url.URL{Path: l.Path, RawQuery: q.Encode()}).String()
	case "s3":
		if l.Region != "" {
			q.Set("region", l.Region)
		}
		if l.Endpoint != "" {
			q.Set("endpoint", l.Endpoint)
		}
		if l.ForcePathStyle {
			q.Set("force_path_style", "true")
		}
	}
	u.Host = l.Bucket
	u.Path = "/" + l.Prefix
	u.RawQuery = q.Encode()
	return u.String()
}

var (
	regionRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	s3BucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	gsBucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)
)

func validBucket(scheme, name string) bool {
	if strings.Contains(name, "..") {
		return false
	}
	if scheme == "s3" {
		return s3BucketRE.MatchString(name)
	}
	return gsBucketRE.MatchString(name)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cleanPath is path.Clean for an absolute slash path.
func cleanPath(p string) string {
	var parts []string
	for c := range strings.SplitSeq(p, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
		default:
			parts = append(parts, c)
		}
	}
	return "/" + strings.Join(parts, "/")
}

// errNoRegion is returned for an s3 URL when neither the URL nor the SDK's
// configuration names a region.
var errNoRegion = errors.New("no region: add ?region= to the URL or set AWS_REGION")
