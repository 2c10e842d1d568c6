package dirstore_test

import (
	"context"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
)

// singles is a service whose putter is a SimplePutter over its own Put:
// the shape of a store that keeps single directories.
type singles struct{ *dirstore.Memory }

func (s singles) NewPutter(ctx context.Context) castore.DirectoryPutter {
	return dirstore.NewSimplePutter(ctx, s.Put)
}

func TestSimplePutter(t *testing.T) {
	dirtest.Run(t, func(t *testing.T) castore.DirectoryService { return singles{dirstore.NewMemory()} }, dirtest.Options{})
}
