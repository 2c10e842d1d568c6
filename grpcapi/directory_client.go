package grpcapi

import (
	"context"
	"errors"
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
//
// A server whose store addresses only roots (bundles), or finds a
// subdirectory only once the closure passed through its cache (one
// frontend of a fleet, when another took the closure), answers NOT_FOUND
// for a directory below a root. The client remembers the root each
// directory it was given came from (roots.go), and then reads it from
// that root's closure.
type DirectoryClient struct {
	c     pb.DirectoryServiceClient
	roots rootHints
}

// NewDirectoryClient returns a DirectoryService that talks to conn.
func NewDirectoryClient(conn grpc.ClientConnInterface) *DirectoryClient {
	return &DirectoryClient{c: pb.NewDirectoryServiceClient(conn)}
}

var _ castore.DirectoryService = (*DirectoryClient)(nil)

// Get asks for one directory. A stream that breaks after it began is
// started again (retry.go). A directory the server does not find is read
// from the closure of the root the client saw it below, if it did.
func (c *DirectoryClient) Get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
	dir, err := c.get(ctx, d)
	root, below := c.roots.rootOf(d)
	if errors.Is(err, castore.ErrNotFound) && below {
		if sub, cerr := c.fromClosure(ctx, root, d); cerr == nil {
			dir, err = sub, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if !below {
		root = d
	}
	c.roots.record(dir, root)
	return dir, nil
}

// fromClosure finds d in the closure of root.
func (c *DirectoryClient) fromClosure(ctx context.Context, root, d castore.Digest) (*castore.Directory, error) {
	for dir, err := range c.getRecursive(ctx, root) {
		if err != nil {
			return nil, err
		}
		c.roots.record(dir, root)
		if dir.Digest() == d {
			return dir, nil
		}
	}
	return nil, fmt.Errorf("directory %s: not in the closure of %s: %w", d, root, castore.ErrNotFound)
}

func (c *DirectoryClient) get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
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
// was yielded already is not yielded again. A root the server does not
// find, below a root the client saw, is read out of that one's closure.
func (c *DirectoryClient) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) {
		top, below := c.roots.rootOf(root)
		if !below {
			top = root
		}
		got := false
		for dir, err := range c.getRecursive(ctx, root) {
			if err == nil {
				c.roots.record(dir, top)
			}
			got = true
			if !yield(dir, err) || err != nil {
				return
			}
		}
		if got || !below {
			return
		}
		all, err := closure.Read(ctx, closureOf{c, top}, top)
		if err != nil {
			if !errors.Is(err, castore.ErrNotFound) {
				yield(nil, err)
			}
			return
		}
		if all[root] == nil {
			return
		}
		seen := map[castore.Digest]bool{root: true}
		for queue := []*castore.Directory{all[root]}; len(queue) > 0; queue = queue[1:] {
			if !yield(queue[0], nil) {
				return
			}
			for _, e := range queue[0].Entries() {
				if e.Node.Type == castore.NodeDirectory && !seen[e.Node.Digest] {
					seen[e.Node.Digest] = true
					queue = append(queue, all[e.Node.Digest])
				}
			}
		}
	}
}

// closureOf is a client whose GetRecursive of root asks the server
// alone, recording what it yields as below top.
type closureOf struct {
	*DirectoryClient
	top castore.Digest
}

func (c closureOf) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	return func(yield func(*castore.Directory, error) bool) {
		for dir, err := range c.getRecursive(ctx, root) {
			if err == nil {
				c.roots.record(dir, c.top)
			}
			if !yield(dir, err) || err != nil {
				return
			}
		}
	}
}

// getRecursive is GetRecursive from the server alone.
func (c *DirectoryClient) getRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
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
