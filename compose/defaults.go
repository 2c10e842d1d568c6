package compose

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/bigtable"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/internal/redact"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/gcsstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/packstore"
	"github.com/castore-go/castore/objectstore/s3store"
)

// DefaultRegistry returns a registry of castore's own service types.
func DefaultRegistry() *Registry {
	r := NewRegistry()
	stores := objectstore.NewRegistry(s3store.Backend(), gcsstore.Backend(), filestore.Backend(), packstore.Backend(), memstore.Backend())
	RegisterBlobService(r, "memory", func(ctx context.Context, c *Composition, p *MemoryBlobParams) (castore.BlobService, error) {
		if err := checkMaxBytes(p.MaxBytes); err != nil {
			return nil, err
		}
		if p.MaxBytes > 0 {
			return chunkstore.NewMemoryCache(p.MaxBytes), nil
		}
		return chunkstore.NewMemory(), nil
	})
	RegisterDirectoryService(r, "memory", func(ctx context.Context, c *Composition, p *MemoryParams) (castore.DirectoryService, error) {
		return dirstore.NewMemory(), nil
	})
	RegisterBlobService(r, "objectstore", func(ctx context.Context, c *Composition, p *ObjectStoreBlobParams) (castore.BlobService, error) {
		s, err := openObjectStore(ctx, c, stores, p.URL, p.MaxBytes)
		if err != nil {
			return nil, err
		}
		comp, err := chunkfmt.ParseCompression(p.Compression)
		if err != nil {
			s.Close()
			return nil, err
		}
		o := chunkstore.ChunkedOptions{AvgChunkSize: p.AvgChunkSize, ChunkLayout: chunkfmt.ChunkLayout(p.ChunkLayout), Compression: comp}
		if p.MaxBytes > 0 {
			// No memory of stored chunks: eviction removes them behind
			// its back.
			o.KnownChunks = 1
		}
		cs, err := chunkstore.NewChunked(s, o)
		if err != nil {
			s.Close()
			return nil, err
		}
		return cs, nil
	})
	RegisterDirectoryService(r, "embedded", func(ctx context.Context, c *Composition, p *EmbeddedParams) (castore.DirectoryService, error) {
		if p.Path == "" {
			return nil, fmt.Errorf("path is required")
		}
		return dirstore.OpenEmbedded(p.Path)
	})
	RegisterDirectoryService(r, "objectstore", func(ctx context.Context, c *Composition, p *ObjectStoreDirectoryParams) (castore.DirectoryService, error) {
		s, err := openObjectStore(ctx, c, stores, p.URL, 0)
		if err != nil {
			return nil, err
		}
		b, err := dirstore.NewBundles(s, 0)
		if err != nil {
			s.Close()
			return nil, err
		}
		return b, nil
	})
	registerLocalCache(r)
	registerRefServices(r, stores)
	RegisterBlobService(r, "combined", func(ctx context.Context, c *Composition, p *CombinedParams) (castore.BlobService, error) {
		near, far, err := nearFar(ctx, c.BlobService, p.Near, p.Far)
		if err != nil {
			return nil, err
		}
		w, err := chunkstore.ParseWriteTo(p.Write)
		if err != nil {
			return nil, err
		}
		return chunkstore.NewNearFar(near, far, chunkstore.NearFarOptions{Write: w, Name: "near " + p.Near + " of far " + p.Far})
	})
	RegisterDirectoryService(r, "cache", func(ctx context.Context, c *Composition, p *CacheParams) (castore.DirectoryService, error) {
		near, far, err := nearFar(ctx, c.DirectoryService, p.Near, p.Far)
		if err != nil {
			return nil, err
		}
		return dirstore.NewCache(near, far), nil
	})
	RegisterDirectoryService(r, "bigtable", func(ctx context.Context, c *Composition, p *BigtableParams) (castore.DirectoryService, error) {
		s, err := bigtable.Open(ctx, bigtable.Params{
			ProjectID: p.ProjectID, InstanceName: p.InstanceName, TableName: p.TableName, FamilyName: p.FamilyName,
			AppProfileID: p.AppProfileID, ChannelSize: p.ChannelSize, Timeout: time.Duration(p.Timeout), IsReadOnly: p.IsReadOnly,
		})
		if err != nil {
			return nil, err
		}
		return s, nil
	})
	RegisterBlobService(r, "grpc", func(ctx context.Context, c *Composition, p *GRPCParams) (castore.BlobService, error) {
		conn, err := dialParams(ctx, p)
		if err != nil {
			return nil, err
		}
		return &closingBlobs{BlobService: grpcapi.NewBlobClient(conn), conn: conn}, nil
	})
	RegisterDirectoryService(r, "grpc", func(ctx context.Context, c *Composition, p *GRPCParams) (castore.DirectoryService, error) {
		conn, err := dialParams(ctx, p)
		if err != nil {
			return nil, err
		}
		return &closingDirs{DirectoryService: grpcapi.NewDirectoryClient(conn), conn: conn}, nil
	})
	return r
}

// nearFar builds the two services a near/far combinator refers to.
func nearFar[S any](ctx context.Context, get func(context.Context, string) (S, error), near, far string) (S, S, error) {
	var zero S
	if near == "" || far == "" {
		return zero, zero, fmt.Errorf("near and far are both required")
	}
	n, err := get(ctx, near)
	if err != nil {
		return zero, zero, err
	}
	f, err := get(ctx, far)
	if err != nil {
		return zero, zero, err
	}
	return n, f, nil
}

func dialParams(ctx context.Context, p *GRPCParams) (*grpc.ClientConn, error) {
	if p.URL == "" {
		return nil, fmt.Errorf("url is required")
	}
	return grpcapi.Dial(ctx, p.URL)
}

// closingBlobs and closingDirs close the connection of a gRPC client when
// the composition is closed. closingBlobs forwards every optional
// capability of the client (a cache in front takes chunks compressed).
type closingBlobs struct {
	castore.BlobService
	conn *grpc.ClientConn
}

var (
	_ castore.CompressedChunkReader = (*closingBlobs)(nil)
	_ castore.CompressedChunkWriter = (*closingBlobs)(nil)
	_ castore.IndexPutter           = (*closingBlobs)(nil)
	_ castore.ChunkReaderService    = (*closingBlobs)(nil)
	_ castore.BatchChunkReader      = (*closingBlobs)(nil)
	_ castore.BlobBatchReader       = (*closingBlobs)(nil)
	_ castore.SizedOpener           = (*closingBlobs)(nil)
	_ castore.ChunkUploader         = (*closingBlobs)(nil)
	_ castore.MissingFinder         = (*closingBlobs)(nil)
	_ castore.BlobStatter           = (*closingBlobs)(nil)
)

func (c *closingBlobs) Missing(ctx context.Context, ds []castore.Digest) ([]castore.Digest, error) {
	return castore.Missing(ctx, c.BlobService, ds)
}

func (c *closingBlobs) OpenSized(ctx context.Context, d castore.Digest, size uint64) (castore.BlobReader, error) {
	return castore.OpenSized(ctx, c.BlobService, d, size)
}

// CreateChunked passes the client's uploads of blobs cut here on: an
// import to a server that takes chunks sends only those it lacks.
func (c *closingBlobs) CreateChunked(ctx context.Context) (castore.BlobWriter, error) {
	return castore.CreateChunked(ctx, c.BlobService)
}

func (c *closingBlobs) Freshen(ctx context.Context, ds []castore.Digest) error {
	return castore.Freshen(ctx, c.BlobService, ds)
}

func (c *closingBlobs) StatBlobs(ctx context.Context, ds []castore.Digest, fn func(castore.Digest, uint64, bool) error) error {
	return castore.StatBlobs(ctx, c.BlobService, ds, fn)
}

func (c *closingBlobs) ReadCompressedChunks(ctx context.Context, ds []castore.Digest, fn func(castore.Digest, []byte) error) error {
	return castore.ReadCompressedChunks(ctx, c.BlobService, ds, fn)
}

func (c *closingBlobs) ReadBlobs(ctx context.Context, blobs []castore.ChunkMeta, fn func(castore.ChunkMeta, []byte) error) error {
	return castore.ReadBlobs(ctx, c.BlobService, blobs, fn)
}

func (c *closingBlobs) Close() error { return c.conn.Close() }

func (c *closingBlobs) ReadCompressedChunk(ctx context.Context, d castore.Digest) ([]byte, error) {
	return castore.ReadCompressedChunk(ctx, c.BlobService, d)
}

func (c *closingBlobs) PutCompressedChunk(ctx context.Context, d castore.Digest, comp []byte) error {
	return castore.PutCompressedChunk(ctx, c.BlobService, d, comp)
}

func (c *closingBlobs) PutIndex(ctx context.Context, d castore.Digest, chunks []castore.ChunkMeta) error {
	return castore.PutIndex(ctx, c.BlobService, d, chunks)
}

func (c *closingBlobs) ReadChunk(ctx context.Context, cm castore.ChunkMeta) ([]byte, error) {
	return castore.ReadChunk(ctx, c.BlobService, cm)
}

type closingDirs struct {
	castore.DirectoryService
	conn *grpc.ClientConn
}

func (c *closingDirs) Close() error { return c.conn.Close() }

// checkMaxBytes refuses a negative max_bytes parameter.
func checkMaxBytes(n int64) error {
	if n < 0 {
		return fmt.Errorf("max_bytes %d: want a positive number of bytes, or 0 for no bound", n)
	}
	return nil
}

// openObjectStore opens an object store URL with the backends of stores,
// each call bounded by the composition's backend timeout and instrumented
// with a span and metrics. A file:// store with maxBytes > 0 is an LRU; a
// pack:// store with maxBytes > 0 a pack cache of that bound.
func openObjectStore(ctx context.Context, c *Composition, stores *objectstore.Registry, rawURL string, maxBytes int64) (objectstore.Store, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("url is required")
	}
	if err := checkMaxBytes(maxBytes); err != nil {
		return nil, err
	}
	loc, err := stores.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if pl, ok := loc.(packstore.Location); ok && maxBytes > 0 {
		// A bounded pack store is a cache: it drops its oldest packs, and
		// syncs nothing.
		pl.MaxBytes, pl.NoSync = maxBytes, true
		loc = pl
		maxBytes = 0
	}
	s, err := loc.Open(ctx)
	if err != nil {
		return nil, err
	}
	if maxBytes > 0 {
		f, ok := s.(*filestore.Store)
		if !ok {
			s.Close()
			return nil, fmt.Errorf("max_bytes bounds a file:// or pack:// store (a cache on local disk), not %s", redact.URL(rawURL, redact.NotSecret))
		}
		if s, err = filestore.NewLRU(f, maxBytes, slog.Default()); err != nil {
			f.Close()
			return nil, err
		}
	}
	scheme, _, _ := strings.Cut(rawURL, ":")
	return objectstore.Instrument(objectstore.WithDeadline(s, c.backendTimeout()), scheme), nil
}
