package compose

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/refstore"
)

// RegisterRefService adds a ref (tag) service type.
func RegisterRefService[P any](r *Registry, typ string, build func(ctx context.Context, c *Composition, p *P) (castore.RefService, error)) {
	register(r, Refs, typ, build)
}

// RefService builds (once) and returns the ref service called name.
func (c *Composition) RefService(ctx context.Context, name string) (castore.RefService, error) {
	s, err := c.build(ctx, Refs, name)
	if err != nil {
		return nil, err
	}
	return s.(castore.RefService), nil
}

// ObjectStoreRefParams: tags as objects under refs/ on an object store.
type ObjectStoreRefParams struct {
	URL string `yaml:"url"`
}

// registerRefServices adds castore's ref service types: memory, embedded
// (a bolt file: path), objectstore (url) and grpc (url).
func registerRefServices(r *Registry, stores *objectstore.Registry) {
	RegisterRefService(r, "memory", func(ctx context.Context, c *Composition, p *MemoryParams) (castore.RefService, error) {
		return refstore.NewMemory(), nil
	})
	RegisterRefService(r, "embedded", func(ctx context.Context, c *Composition, p *EmbeddedParams) (castore.RefService, error) {
		if p.Path == "" {
			return nil, fmt.Errorf("path is required")
		}
		return refstore.OpenEmbedded(p.Path)
	})
	RegisterRefService(r, "objectstore", func(ctx context.Context, c *Composition, p *ObjectStoreRefParams) (castore.RefService, error) {
		s, err := openObjectStore(ctx, c, stores, p.URL, 0)
		if err != nil {
			return nil, err
		}
		return &closingRefs{RefService: refstore.NewObjectStore(s), closer: s.Close}, nil
	})
	RegisterRefService(r, "grpc", func(ctx context.Context, c *Composition, p *GRPCParams) (castore.RefService, error) {
		conn, err := dialParams(ctx, p)
		if err != nil {
			return nil, err
		}
		return &closingRefs{RefService: grpcapi.NewRefClient(conn), closer: conn.Close}, nil
	})
}

// closingRefs releases what a ref service was built on (a store, a
// connection) when the composition is closed.
type closingRefs struct {
	castore.RefService
	closer func() error
}

func (c *closingRefs) Close() error { return c.closer() }

// DefaultRefAddr is where the tags of a directory service at dirAddr are
// kept unless said otherwise, or "" if nowhere: beside an embedded
// directory store, the file refs.db in its directory (the local default:
// DATA_DIR/refs.db); on the same object store as bundles, under refs/; on
// the same gRPC server; in memory for memory.
func DefaultRefAddr(dirAddr string) string {
	switch {
	case strings.HasPrefix(dirAddr, "bolt://"):
		return "bolt://" + filepath.Join(filepath.Dir(strings.TrimPrefix(dirAddr, "bolt://")), "refs.db")
	case strings.HasPrefix(dirAddr, "objectstore+"), strings.HasPrefix(dirAddr, "grpc+"), strings.HasPrefix(dirAddr, "memory:"):
		return dirAddr
	}
	return ""
}

// Refs builds (once) and returns the composition's default ref service,
// refservices.default: from the config file, or Options.RefServiceAddr,
// or DefaultRefAddr of the directory service's address. It is built only
// when asked for, so a program that never uses tags opens no tag store.
// Without one it fails wrapping castore.ErrUnsupported.
func (s *Services) Refs(ctx context.Context) (castore.RefService, error) {
	if !s.Has(Refs, DefaultName) {
		return nil, fmt.Errorf("no ref service: the configuration defines no %s.%s: %w", Refs, DefaultName, castore.ErrUnsupported)
	}
	return s.RefService(ctx, DefaultName)
}

// CompleteRefs is Refs whose Set refuses, wrapping castore.ErrIncomplete,
// a root whose closure the services' directories and blobs do not hold
// whole (refstore.RequireComplete): what a server serves, and what a
// program setting tags on local stores uses.
func (s *Services) CompleteRefs(ctx context.Context) (castore.RefService, error) {
	refs, err := s.Refs(ctx)
	if err != nil {
		return nil, err
	}
	return refstore.RequireComplete(refs, s.Directories, s.Blobs), nil
}
