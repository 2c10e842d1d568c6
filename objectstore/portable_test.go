package objectstore_test

import (
	"context"
	"errors"
	"io"
	"iter"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
)

// spy is a driver that records the keys it is called with.
type spy struct {
	objectstore.Store
	keys []string
}

func (s *spy) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	s.keys = append(s.keys, key)
	return s.Store.Get(ctx, key)
}

func (s *spy) Put(ctx context.Context, key string, r io.Reader) error {
	s.keys = append(s.keys, key)
	return s.Store.Put(ctx, key, r)
}

func (s *spy) List(ctx context.Context, prefix string) iter.Seq2[objectstore.ObjectInfo, error] {
	s.keys = append(s.keys, prefix)
	return func(yield func(objectstore.ObjectInfo, error) bool) {
		// An object not written through a Store, then a real one.
		if yield(objectstore.ObjectInfo{Key: "bad//key"}, nil) {
			yield(objectstore.ObjectInfo{Key: "good", Size: 1}, nil)
		}
	}
}

// Portable refuses invalid keys and prefixes and done contexts before the
// driver sees them, and lists only valid keys.
func TestPortable(t *testing.T) {
	d := &spy{Store: memstore.New()}
	p := objectstore.NewPortable(d)
	ctx := t.Context()
	if err := p.Put(ctx, "a/../b", strings.NewReader("x")); !errors.Is(err, castore.ErrInvalid) {
		t.Errorf("Put(a/../b) = %v, want ErrInvalid", err)
	}
	if _, err := p.Get(ctx, ""); !errors.Is(err, castore.ErrInvalid) {
		t.Errorf("Get(\"\") = %v, want ErrInvalid", err)
	}
	for _, err := range p.List(ctx, "a//") {
		if !errors.Is(err, castore.ErrInvalid) {
			t.Errorf("List(a//) = %v, want ErrInvalid", err)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Put(done, "k", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a done context = %v", err)
	}
	for _, err := range p.List(done, "") {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("List with a done context = %v", err)
		}
	}
	if len(d.keys) != 0 {
		t.Errorf("the driver was called with %q", d.keys)
	}
	var listed []string
	for oi, err := range p.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, oi.Key)
	}
	if len(listed) != 1 || listed[0] != "good" {
		t.Errorf("List = %q, want only the valid key", listed)
	}
}
