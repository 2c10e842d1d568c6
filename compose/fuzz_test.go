package compose_test

import (
	"context"
	"testing"

	"github.com/castore-go/castore/compose"
)

// FuzzLoadConfig feeds arbitrary bytes to the config parser: it never
// panics or hangs, and whatever loads can be validated and built (with
// stand-in types) or fails with an error.
//
//	go test ./compose -run '^$' -fuzz FuzzLoadConfig -fuzztime 1m
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("blobservices:\n  a: {type: leaf, label: a}\n  default: {type: pair, near: a, far: a}\n"))
	f.Add([]byte("blobservices: {x: {type: pair, near: x, far: x}}"))
	f.Add([]byte("directoryservices: {d: {type: leaf}}"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("blobservices: {x: {type: leaf, label: &l [*l, *l]}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := compose.New(testRegistry(new([]string)))
		if err := c.Load(b); err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			return
		}
		for _, name := range []string{"default", "a", "x"} {
			if c.Has(compose.Blobs, name) {
				c.BlobService(context.Background(), name)
			}
		}
		c.Close()
	})
}

// FuzzSpecFromURL: never panics; an error never echoes a password.
func FuzzSpecFromURL(f *testing.F) {
	for _, s := range []string{"memory://", "objectstore+s3://b/p?region=x&avg_chunk_size=1", "bolt:///x.db",
		"bigtable://i?project_id=p&timeout=1.5", "grpc+unix:///s", "objectstore+s3://u:pw@b/%zz", "grpc+http://[::1]:1,127.0.0.2:1", "GRPC+HTTP://a:1,b:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []compose.Kind{compose.Blobs, compose.Directories} {
			compose.SpecFromURL(k, s)
		}
	})
}
