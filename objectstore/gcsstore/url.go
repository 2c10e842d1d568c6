package gcsstore

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	"cloud.google.com/go/storage"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/internal/bucket"
)

// Location is a parsed gs:// URL.
type Location struct {
	// Bucket and Prefix locate the store; Prefix has no leading or
	// trailing '/'.
	Bucket, Prefix string
}

// Backend is the gs scheme, for an objectstore.Registry.
func Backend() objectstore.Backend {
	return objectstore.Backend{
		Scheme: "gs",
		Form:   "gs://",
		Parse: func(u *url.URL, _ url.Values) (objectstore.Location, error) {
			var l Location
			var err error
			if l.Bucket, l.Prefix, err = bucket.ParseURL(u, bucketRE); err != nil {
				return nil, err
			}
			return l, nil
		},
	}
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)

// ParseURL parses and checks a gs:// URL without opening it.
func ParseURL(rawURL string) (Location, error) {
	loc, err := objectstore.NewRegistry(Backend()).ParseURL(rawURL)
	if err != nil {
		return Location{}, err
	}
	return loc.(Location), nil
}

// Open opens the store a gs:// URL names; see Location.Open.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return loc.open(ctx)
}

// String returns the URL of the location, as ParseURL accepts it.
func (l Location) String() string { return bucket.String("gs", l.Bucket, l.Prefix, nil) }

// Open creates a client with Application Default Credentials, or none
// when STORAGE_EMULATOR_HOST is set (the library's own rule), which the
// store closes. It does not contact the service.
func (l Location) Open(ctx context.Context) (objectstore.Store, error) {
	s, err := l.open(ctx)
	if err != nil {
		return nil, err // not a nil *Store in a non-nil Store
	}
	return s, nil
}

func (l Location) open(ctx context.Context) (*Store, error) {
	client, err := storage.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcs store %q: %w", l.Bucket, err)
	}
	d, err := newDriver(client, l.Bucket, l.Prefix)
	if err != nil {
		client.Close()
		return nil, err
	}
	d.ownsClient = true
	return &Store{objectstore.NewPortable(d)}, nil
}
