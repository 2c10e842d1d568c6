package grpcapi

import (
	"context"
	"fmt"
	"io"
	"iter"

	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/closure"
)

// DirectoryClient is a castore.DirectoryService backed by a remote
// tvix.castore.v1.DirectoryService. It verifies every directory it
// receives against the digest it asked for or was referred to.
type DirectoryClient struct {
	c pb.DirectoryServiceClient
}

// NewDirectoryClient returns a DirectoryService that talks to conn.
func NewDirectoryClient(conn grpc.ClientConnInterface) *DirectoryClient {
	return &DirectoryClient{c: pb.NewDirectoryServiceClient(conn)}
}

var _ castore.DirectoryService = (*DirectoryClient)(nil)

// Get asks for one directory. A stream that breaks after it began is
// started again (retry.go).
func (c *DirectoryClient) Get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var msg *pb.Directory
	for attempt := 0; ; attempt++ {
		stream, err := c.c.Get(ctx, &pb.GetDirectoryRequest{ByWhat: &pb.GetDirectoryRequest_Digest{Digest: d[:]}})
		if err != nil {
			return nil, fromStatus("get directory "+d.String(), err)
		}
		msg, err = stream.Recv()
		if err == io.EOF {
			return nil, fmt.Errorf("get directory %s: server sent nothing: %w", d, castore.ErrNotFound)
		}
		if err == nil {
			break
		}
		if !restartRead(ctx, stream, err, attempt) {
			return nil, fromStatus("get directory "+d.String(), err)
		}
	}
	dir, err := received(msg, d)
	if err != nil {
		return nil, fmt.Errorf("get directory %s: %w", d, err)
	}
	return dir, nil
}

// Addressing is castore.AddressesSome: the protocol does not say whether
// the server's store addresses subdirectories (a tvix or castore server
// on bundles does not).
func (c *DirectoryClient) Addressing() castore.Addressing { return castore.AddressesSome }

// received converts a directory from the server and checks its digest.
func received(msg *pb.Directory, want castore.Digest) (*castore.Directory, error) {
	dir, err := pb.ToDirectory(msg)
	if err != nil {
		return nil, fmt.Errorf("server sent an invalid directory: %w", errJoinCorrupt(err))
	}
	if got := dir.Digest(); got != want {
		return nil, fmt.Errorf("server sent directory %s: %w", got, castore.ErrCorrupt)
	}
	return dir, nil
}

func errJoinCorrupt(err error) error { return fmt.Errorf("%w: %w", castore.ErrCorrupt, err) }

// GetRecursive streams the closure and checks it as it arrives
// (closure.RootFirstValidator): the root first, then only directories an
// earlier one referred to, with the sizes it gave, each once, and nothing
// missing at the end. A stream that breaks after it began is started
// again (retry.go), and the new stream checked whole the same way; what
// was yielded already is not yielded again.
func (c *DirectoryClient) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		fail := func(err error) { yield(nil, fmt.Errorf("get closure %s: %w", root, err)) }
		var yielded map[castore.Digest]bool // set once a stream broke
		for attempt := 0; ; attempt++ {
			stream, err := c.c.Get(ctx, &pb.GetDirectoryRequest{ByWhat: &pb.GetDirectoryRequest_Digest{Digest: root[:]}, Recursive: true})
			if err != nil {
				fail(fromStatus("get", err))
				return
			}
			v := closure.NewRootFirstValidator(root)
			var seen []castore.Digest // this stream's directories
			restart := false
			for {
				msg, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					if !restartRead(ctx, stream, err, attempt) {
						fail(fromStatus("get", err))
						return
					}
					if yielded == nil {
						yielded = make(map[castore.Digest]bool, len(seen))
					}
					for _, d := range seen {
						yielded[d] = true
					}
					restart = true
					break
				}
				dir, err := pb.ToDirectory(msg)
				if err != nil {
					fail(fmt.Errorf("server sent an invalid directory: %w", errJoinCorrupt(err)))
					return
				}
				if err := v.Add(dir); err != nil {
					fail(fmt.Errorf("server's closure: %w", err))
					return
				}
				d := dir.Digest()
				seen = append(seen, d)
				if yielded[d] {
					continue
				}
				if !yield(dir, nil) {
					return
				}
			}
			if restart {
				continue
			}
			if err := v.Finish(); err != nil {
				fail(fmt.Errorf("server's closure: %w", err))
			}
			return
		}
	}
}

// Put sends one directory as a closure of one. As with tvix, the server
// then refuses a directory with subdirectories (even stored ones): send
// closures through a putter.
func (c *DirectoryClient) Put(ctx context.Context, dir *castore.Directory) (castore.Digest, error) {
	p := c.NewPutter(ctx)
	if err := p.Put(dir); err != nil {
		return castore.Digest{}, err
	}
	return p.Close()
}

// NewPutter streams a closure to the server; Close reports its verdict.
func (c *DirectoryClient) NewPutter(ctx context.Context) castore.DirectoryPutter {
	return &directoryPutter{ctx: ctx, c: c}
}

type directoryPutter struct {
	ctx    context.Context
	c      *DirectoryClient
	stream grpc.ClientStreamingClient[pb.Directory, pb.PutDirectoryResponse]
	last   castore.Digest
	n      int
	err    error
}

func (p *directoryPutter) Put(dir *castore.Directory) error {
	if p.err != nil {
		return p.err
	}
	if p.stream == nil {
		p.stream, p.err = p.c.c.Put(p.ctx)
		if p.err != nil {
			p.err = fromStatus("put directories", p.err)
			return p.err
		}
	}
	if err := p.stream.Send(pb.FromDirectory(dir)); err != nil {
		p.err = uploadBroken("put directories", p.stream)
		return p.err
	}
	p.last = dir.Digest()
	p.n++
	return nil
}

func (p *directoryPutter) Close() (castore.Digest, error) {
	if p.err != nil {
		return castore.Digest{}, p.err
	}
	if p.n == 0 {
		return castore.Digest{}, fmt.Errorf("put directories: nothing was put: %w", castore.ErrInvalid)
	}
	p.err = fmt.Errorf("put directories: putter already closed")
	root, err := closeUpload(p.ctx, "put directories", p.stream, (*pb.PutDirectoryResponse).GetRootDigest)
	if err != nil {
		return castore.Digest{}, err
	}
	if root != p.last {
		return castore.Digest{}, fmt.Errorf("put directories: server says the root is %s, the last directory sent was %s: %w", root, p.last, castore.ErrCorrupt)
	}
	return root, nil
}
