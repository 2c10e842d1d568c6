package packstore

import (
	"context"
	"errors"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/castore-go/castore/objectstore"
)

// Location is a parsed pack:// URL: pack:///abs/dir, with sync=group (the
// default: acknowledged writes are on disk) or sync=none, and max_bytes=N
// for a cache kept within N bytes (which syncs nothing unless sync=group
// is given).
type Location struct {
	Path     string
	NoSync   bool
	MaxBytes int64
}

// Backend is the pack scheme, for an objectstore.Registry.
func Backend() objectstore.Backend {
	return objectstore.Backend{
		Scheme: "pack",
		Form:   "pack:///",
		Params: []string{"sync", "max_bytes"},
		Parse: func(u *url.URL, q url.Values) (objectstore.Location, error) {
			return parse(u, q)
		},
	}
}

func parse(u *url.URL, q url.Values) (Location, error) {
	if u.Host != "" && u.Host != "localhost" {
		return Location{}, errors.New("pack URL has a host; write pack:///absolute/path")
	}
	if !strings.HasPrefix(u.Path, "/") {
		return Location{}, errors.New("pack URL needs an absolute path")
	}
	if strings.ContainsRune(u.Path, 0) {
		return Location{}, errors.New("path contains a NUL byte")
	}
	loc := Location{Path: path.Clean(u.Path)}
	if v := q.Get("max_bytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return Location{}, errors.New("max_bytes must be a positive number of bytes")
		}
		loc.MaxBytes = n
		loc.NoSync = true
	}
	switch q.Get("sync") {
	case "":
	case "group":
		loc.NoSync = false
	case "none":
		loc.NoSync = true
	default:
		return Location{}, errors.New("sync must be group or none")
	}
	return loc, nil
}

// String returns the URL of the location, as a Registry parses it.
func (l Location) String() string {
	q := url.Values{}
	if l.MaxBytes > 0 {
		q.Set("max_bytes", strconv.FormatInt(l.MaxBytes, 10))
		if !l.NoSync {
			q.Set("sync", "group")
		}
	} else if l.NoSync {
		q.Set("sync", "none")
	}
	return "pack://" + (&url.URL{Path: l.Path, RawQuery: q.Encode()}).String()
}

// Open opens (creating if needed) the store in the location's directory.
func (l Location) Open(context.Context) (objectstore.Store, error) {
	s, err := Open(l.Path, Options{NoSync: l.NoSync, MaxBytes: l.MaxBytes})
	if err != nil {
		return nil, err // not a nil *Store in a non-nil Store
	}
	return s, nil
}
