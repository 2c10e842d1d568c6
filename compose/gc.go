package compose

import (
	"context"
	"fmt"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/objectstore"
)

// GCTarget is what garbage collection (package gc) runs on, opened from
// the same options as the services: the object store under a chunked
// blob service, the directory service its closures are walked through,
// whether those are bundles on the same object store (then swept too),
// and the tags (the services' ref service, Services.Refs).
type GCTarget struct {
	*Services
	Store   objectstore.Store
	Bundles bool
	Refs    castore.RefService
	// Embedded is the directory service when it is an embedded (bbolt)
	// store, whose broken directories gc deletes (gc.Options.SweepDirectories).
	Embedded *dirstore.Embedded
}

// OpenGC opens opts' services for garbage collection. The default blob
// service must be a chunked store on an object store (the far store
// itself, not a cache in front of it), and a ref service must be
// configured (without one every object would look dead); directories are
// swept only when the default directory service is bundles on the same
// object store URL as the blobs, else only read.
func OpenGC(ctx context.Context, reg *Registry, opts Options) (*GCTarget, error) {
	svcs, err := Open(ctx, reg, opts)
	if err != nil {
		return nil, err
	}
	t, err := gcTarget(ctx, svcs)
	if err != nil {
		svcs.Close()
		return nil, err
	}
	return t, nil
}

func gcTarget(ctx context.Context, svcs *Services) (*GCTarget, error) {
	chunked, ok := svcs.Blobs.(*chunkstore.Chunked)
	if !ok {
		return nil, fmt.Errorf("garbage collection runs on a chunked blob store on an object store (objectstore+s3://, +gs://, +file://, +pack://, or the --data-dir default), not %T: name the far store itself", svcs.Blobs)
	}
	refs, err := svcs.Refs(ctx)
	if err != nil {
		return nil, fmt.Errorf("garbage collection needs the tags: %w", err)
	}
	t := &GCTarget{Services: svcs, Store: chunked.ObjectStore(), Refs: refs}
	t.Embedded, _ = svcs.Directories.(*dirstore.Embedded)
	if _, ok := svcs.Directories.(*dirstore.Bundles); ok {
		b, ok1 := svcs.specs[Blobs][DefaultName].params.(*ObjectStoreBlobParams)
		d, ok2 := svcs.specs[Directories][DefaultName].params.(*ObjectStoreDirectoryParams)
		t.Bundles = ok1 && ok2 && b.URL == d.URL
	}
	return t, nil
}
