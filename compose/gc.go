package compose

import (
	"context"
	"fmt"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/refstore"
)

// GCTarget is what garbage collection (package gc) runs on, opened from
// the same options as the services: the object store under a chunked
// blob service, the directory service its closures are walked through,
// whether those are bundles on the same object store (then swept too),
// and the tags, kept on that object store under refs/.
type GCTarget struct {
	*Services
	Store   objectstore.Store
	Bundles bool
	Refs    castore.RefService
}

// OpenGC opens opts' services for garbage collection. The blob service
// must be a chunked store on an object store (the far store itself, not a
// cache in front of it); directories are swept only when they are bundles
// on the same object store URL (both addresses objectstore+ the same URL),
// else only read.
func OpenGC(ctx context.Context, reg *Registry, opts Options) (*GCTarget, error) {
	svcs, err := Open(ctx, reg, opts)
	if err != nil {
		return nil, err
	}
	chunked, ok := svcs.Blobs.(*chunkstore.Chunked)
	if !ok {
		svcs.Close()
		return nil, fmt.Errorf("garbage collection runs on a chunked blob store on an object store (objectstore+s3://, +gs://, +file://, +pack://, or the --data-dir default), not %T", svcs.Blobs)
	}
	t := &GCTarget{Services: svcs, Store: chunked.ObjectStore()}
	if _, ok := svcs.Directories.(*dirstore.Bundles); ok && opts.ConfigFile == "" {
		_, bp, err1 := SpecFromURL(Blobs, opts.BlobServiceAddr)
		_, dp, err2 := SpecFromURL(Directories, opts.DirectoryServiceAddr)
		b, ok1 := bp.(*ObjectStoreBlobParams)
		d, ok2 := dp.(*ObjectStoreDirectoryParams)
		t.Bundles = err1 == nil && err2 == nil && ok1 && ok2 && b.URL == d.URL
	}
	t.Refs = refstore.NewObjectStore(t.Store)
	return t, nil
}
