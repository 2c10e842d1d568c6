package grpcapi

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
)

// RefClient is a castore.RefService backed by a remote
// castore.v1.RefService. It checks its arguments before sending them,
// and everything the server answers: a tag that does not decode, is not
// the one asked for (another name; for Set another root or expiry, or no
// updated time), or a listing out of name order or outside its prefix,
// is castore.ErrCorrupt. ABORTED comes back as castore.ErrConflict,
// FAILED_PRECONDITION as castore.ErrIncomplete.
type RefClient struct {
	c pb.RefServiceClient
}

// NewRefClient returns a RefService that talks to conn.
func NewRefClient(conn grpc.ClientConnInterface) *RefClient {
	return &RefClient{c: pb.NewRefServiceClient(conn)}
}

var _ castore.RefService = (*RefClient)(nil)

// receivedTag converts a tag from the server and checks it is name's.
func receivedTag(pt *pb.Tag, name string) (castore.Tag, error) {
	t, err := pb.ToTag(pt)
	if err != nil {
		return castore.Tag{}, fmt.Errorf("server sent an invalid tag: %w", errJoinCorrupt(err))
	}
	if t.Name != name {
		return castore.Tag{}, fmt.Errorf("server sent tag %q, not %q: %w", t.Name, name, castore.ErrCorrupt)
	}
	if t.Updated.IsZero() {
		return castore.Tag{}, fmt.Errorf("server sent tag %q without an updated time: %w", t.Name, castore.ErrCorrupt)
	}
	return t, nil
}

func (c *RefClient) Get(ctx context.Context, name string) (castore.Tag, error) {
	if err := castore.ValidateTagName(name); err != nil {
		return castore.Tag{}, fmt.Errorf("get: %w", err)
	}
	op := fmt.Sprintf("get tag %q", name)
	pt, err := c.c.Get(ctx, &pb.GetTagRequest{Name: name})
	if err != nil {
		return castore.Tag{}, fromStatus(op, err)
	}
	t, err := receivedTag(pt, name)
	if err != nil {
		return castore.Tag{}, fmt.Errorf("%s: %w", op, err)
	}
	return t, nil
}

func (c *RefClient) Set(ctx context.Context, t castore.Tag, expect castore.Expect) (castore.Tag, error) {
	if err := t.Validate(); err != nil {
		return castore.Tag{}, fmt.Errorf("set: %w", err)
	}
	if err := checkExpectRoot(expect); err != nil {
		return castore.Tag{}, fmt.Errorf("set tag %q: %w", t.Name, err)
	}
	op := fmt.Sprintf("set tag %q", t.Name)
	sent := t
	sent.Updated = time.Time{} // the server stamps its own
	pt, err := c.c.Set(ctx, &pb.SetTagRequest{Tag: pb.FromTag(sent), Expect: pb.FromExpect(expect)})
	if err != nil {
		return castore.Tag{}, fromStatus(op, err)
	}
	stored, err := receivedTag(pt, t.Name)
	if err != nil {
		return castore.Tag{}, fmt.Errorf("%s: %w", op, err)
	}
	if !stored.Root.Equal(t.Root) || !stored.Expires.Equal(t.Expires) {
		return castore.Tag{}, fmt.Errorf("%s: server answered another tag than it was sent: %w", op, castore.ErrCorrupt)
	}
	return stored, nil
}

func (c *RefClient) Delete(ctx context.Context, name string, expect castore.Expect) error {
	if err := castore.ValidateTagName(name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := checkExpectRoot(expect); err != nil {
		return fmt.Errorf("delete tag %q: %w", name, err)
	}
	_, err := c.c.Delete(ctx, &pb.DeleteTagRequest{Name: name, Expect: pb.FromExpect(expect)})
	return fromStatus(fmt.Sprintf("delete tag %q", name), err)
}

func checkExpectRoot(expect castore.Expect) error {
	if root, ok := expect.Root(); ok {
		if err := root.Validate(); err != nil {
			return fmt.Errorf("expected root: %w", err)
		}
	}
	return nil
}

// List streams the tags, checking each is valid, under prefix, and after
// the one before in name order.
func (c *RefClient) List(ctx context.Context, prefix string) iter.Seq2[castore.Tag, error] {
	return func(yield func(castore.Tag, error) bool) {
		op := fmt.Sprintf("list tags %q", prefix)
		if err := castore.ValidateTagPrefix(prefix); err != nil {
			yield(castore.Tag{}, fmt.Errorf("list: %w", err))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := c.c.List(ctx, &pb.ListTagsRequest{Prefix: prefix})
		if err != nil {
			yield(castore.Tag{}, fromStatus(op, err))
			return
		}
		last := ""
		for {
			pt, err := stream.Recv()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(castore.Tag{}, fromStatus(op, err))
				return
			}
			name := pt.GetName()
			switch {
			case !strings.HasPrefix(name, prefix):
				err = fmt.Errorf("server sent tag %q, outside the prefix: %w", name, castore.ErrCorrupt)
			case last != "" && name <= last:
				err = fmt.Errorf("server sent tag %q after %q, out of name order: %w", name, last, castore.ErrCorrupt)
			}
			var t castore.Tag
			if err == nil {
				t, err = receivedTag(pt, name)
			}
			if err != nil {
				yield(castore.Tag{}, fmt.Errorf("%s: %w", op, err))
				return
			}
			last = name
			if !yield(t, nil) {
				return
			}
		}
	}
}
