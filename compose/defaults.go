package compose

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
)

// DefaultRegistry returns a registry of castore's own service types.
func DefaultRegistry() *Registry {
	r := NewRegistry()
	RegisterBlobService(r, "memory", func(ctx context.Context, c *Composition, p *MemoryParams) (castore.BlobService, error) {
		return chunkstore.NewMemory(), nil
	})
	RegisterDirectoryService(r, "memory", func(ctx context.Context, c *Composition, p *MemoryParams) (castore.DirectoryService, error) {
		return dirstore.NewMemory(), nil
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

func dialParams(ctx context.Context, p *GRPCParams) (*grpc.ClientConn, error) {
	if p.URL == "" {
		return nil, fmt.Errorf("url is required")
	}
	return grpcapi.Dial(ctx, p.URL)
}

// closingBlobs and closingDirs close the connection of a gRPC client when
// the composition is closed.
type closingBlobs struct {
	castore.BlobService
	conn *grpc.ClientConn
}

func (c *closingBlobs) Close() error { return c.conn.Close() }

type closingDirs struct {
	castore.DirectoryService
	conn *grpc.ClientConn
}

func (c *closingDirs) Close() error { return c.conn.Close() }
