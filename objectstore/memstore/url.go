package memstore

import (
	"context"
	"errors"
	"net/url"

	"github.com/castore-go/castore/objectstore"
)

// Location is the memory:// URL: each Open is a new, empty store.
type Location struct{}

// Backend is the memory scheme, for an objectstore.Registry.
func Backend() objectstore.Backend {
	return objectstore.Backend{
		Scheme: "memory",
		Form:   "memory://",
		Parse: func(u *url.URL, _ url.Values) (objectstore.Location, error) {
			if u.Host != "" || (u.Path != "" && u.Path != "/") {
				return nil, errors.New("memory:// takes no host or path")
			}
			return Location{}, nil
		},
	}
}

// Open returns a new, empty store.
func (Location) Open(context.Context) (objectstore.Store, error) { return New(), nil }

// String returns "memory://".
func (Location) String() string { return "memory://" }
