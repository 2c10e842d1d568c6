package filestore

import (
	"context"
	"errors"
	"net/url"
	"path"
	"strings"

	"github.com/castore-go/castore/objectstore"
)

// Location is a parsed file:// URL.
type Location struct {
	// Path is the store's directory, absolute and clean.
	Path string
	// Sync is the sync mode, the parameter sync: group, each or none.
	Sync SyncMode
}

// Backend is the file scheme, for an objectstore.Registry.
func Backend() objectstore.Backend {
	return objectstore.Backend{
		Scheme: "file",
		Form:   "file:///",
		Params: []string{"sync"},
		Parse: func(u *url.URL, q url.Values) (objectstore.Location, error) {
			return parse(u, q)
		},
	}
}

func parse(u *url.URL, q url.Values) (Location, error) {
	if u.Host != "" && u.Host != "localhost" {
		return Location{}, errors.New("file URL has a host; write file:///absolute/path")
	}
	if !strings.HasPrefix(u.Path, "/") {
		return Location{}, errors.New("file URL needs an absolute path")
	}
	if strings.ContainsRune(u.Path, 0) {
		return Location{}, errors.New("path contains a NUL byte")
	}
	loc := Location{Path: path.Clean(u.Path)}
	switch v := q.Get("sync"); v {
	case "", "group":
		loc.Sync = SyncGroup
	case "each":
		loc.Sync = SyncEach
	case "none":
		loc.Sync = SyncNone
	default:
		return Location{}, errors.New("sync must be group, each or none")
	}
	return loc, nil
}

// String returns the URL of the location, as a Registry parses it.
func (l Location) String() string {
	q := url.Values{}
	switch l.Sync {
	case SyncEach:
		q.Set("sync", "each")
	case SyncNone:
		q.Set("sync", "none")
	}
	// url.URL drops the empty authority of file:///path.
	return "file://" + (&url.URL{Path: l.Path, RawQuery: q.Encode()}).String()
}

// Open opens (creating if needed) the store in the location's directory.
func (l Location) Open(context.Context) (objectstore.Store, error) {
	s, err := New(l.Path, &Options{Sync: l.Sync})
	if err != nil {
		return nil, err // not a nil *Store in a non-nil Store
	}
	return s, nil
}
