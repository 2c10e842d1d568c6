package filestore

import (
	"context"
	"os"
	"time"

	"github.com/castore-go/castore/objectstore"
)

var _ objectstore.Toucher = (*driver)(nil)

// Touch sets the file's mtime to now (its atime, which the LRU cache
// reads, stays), durable like a put.
func (f *driver) Touch(ctx context.Context, key string) error {
	return f.setModTime("touch", key, time.Now())
}

func (f *driver) setModTime(op, key string, t time.Time) error {
	p, err := f.path(op, key)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(p); err != nil {
		return f.pathErr(op, key, err)
	} else if !fi.Mode().IsRegular() {
		return objectstore.NotFound(op, key)
	}
	if err := os.Chtimes(p, time.Time{}, t); err != nil {
		return f.pathErr(op, key, err)
	}
	return f.commit(p)
}

// SetModTime sets key's mtime to t: a test's way to make an object old.
func (s *Store) SetModTime(key string, t time.Time) error {
	if err := objectstore.CheckKey(key); err != nil {
		return err
	}
	return s.f.setModTime("set mtime", key, t)
}
