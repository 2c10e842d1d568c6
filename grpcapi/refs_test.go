package grpcapi_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/refstore"
	"github.com/castore-go/castore/reftest"
)

// serveRefs runs a server of refs on loopback and returns a connection
// to it.
func serveRefs(t *testing.T, refs castore.RefService) *grpc.ClientConn {
	t.Helper()
	l := listenTCP(t)
	s := grpc.NewServer(grpcapi.ServerOptions()...)
	grpcapi.RegisterRefs(s, refs)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return dial(t, "grpc+http://"+l.Addr().String())
}

// The client against a server on loopback keeps the RefService contract.
func TestRefsConformance(t *testing.T) {
	reftest.Run(t, func(t *testing.T) castore.RefService {
		return grpcapi.NewRefClient(serveRefs(t, refstore.NewMemory()))
	})
}

// Every status code the server answers, with a raw client.
func TestRefsWire(t *testing.T) {
	blobs := chunkstore.NewMemory()
	dirs := dirstore.NewMemory()
	inner := refstore.NewMemory()
	conn := serveRefs(t, refstore.RequireComplete(inner, dirs, blobs))
	rc := pb.NewRefServiceClient(conn)
	ctx := ctxT(t)

	leaf, mid, root := dirtest.SmallClosure(t)
	if _, err := dirtest.Put(ctx, dirs, leaf, mid, root); err != nil {
		t.Fatal(err)
	}
	rootPB := pb.FromNode(nil, root.Node())
	missing := pb.FromNode(nil, castore.DirectoryNode(castore.Sum([]byte("not stored")), 1))
	tag := func(name string, r *pb.Node) *pb.Tag { return &pb.Tag{Name: name, Root: r} }
	absent := &pb.Expect{Expect: &pb.Expect_Absent{Absent: true}}
	expectRoot := func(r *pb.Node) *pb.Expect { return &pb.Expect{Expect: &pb.Expect_Root{Root: r}} }

	// Set: the server stamps updated, whatever the client sends.
	before := time.Now()
	got, err := rc.Set(ctx, &pb.SetTagRequest{Tag: &pb.Tag{Name: "ci/main", Root: rootPB, Updated: timestamppb.New(time.Unix(1, 0))}})
	if err != nil {
		t.Fatal(err)
	}
	if up := got.GetUpdated().AsTime(); up.Before(before.Add(-time.Second)) || got.GetName() != "ci/main" {
		t.Fatalf("Set answered %v", got)
	}
	_, err = rc.Set(ctx, &pb.SetTagRequest{Tag: tag("ci/main", rootPB), Expect: absent})
	wantCode(t, "Set expecting absence of a present tag", err, codes.Aborted)
	_, err = rc.Set(ctx, &pb.SetTagRequest{Tag: tag("ci/main", rootPB), Expect: expectRoot(missing)})
	wantCode(t, "Set expecting another root", err, codes.Aborted)
	_, err = rc.Set(ctx, &pb.SetTagRequest{Tag: tag("ci/other", missing)})
	wantCode(t, "Set of an incomplete root", err, codes.FailedPrecondition)
	if st, _ := status.FromError(err); !strings.Contains(st.Message(), castore.Sum([]byte("not stored")).String()) {
		t.Errorf("FAILED_PRECONDITION does not name the missing directory: %v", err)
	}
	if _, err := rc.Set(ctx, &pb.SetTagRequest{Tag: tag("ci/main", pb.FromNode(nil, castore.SymlinkNode("x"))), Expect: expectRoot(rootPB)}); err != nil {
		t.Fatalf("Set expecting the current root: %v", err)
	}

	// Invalid requests.
	for why, req := range map[string]*pb.SetTagRequest{
		"no tag":          {},
		"bad name":        {Tag: tag("a/../b", rootPB)},
		"empty name":      {Tag: tag("", rootPB)},
		"long name":       {Tag: tag(strings.Repeat("x", 513), rootPB)},
		"no root":         {Tag: tag("a", nil)},
		"empty root":      {Tag: tag("a", &pb.Node{})},
		"named root":      {Tag: tag("a", pb.FromNode([]byte("n"), castore.SymlinkNode("x")))},
		"short digest":    {Tag: tag("a", &pb.Node{Node: &pb.Node_Directory{Directory: &pb.DirectoryNode{Digest: []byte{1}}}})},
		"bad symlink":     {Tag: tag("a", &pb.Node{Node: &pb.Node_Symlink{Symlink: &pb.SymlinkNode{}}})},
		"bad expiry":      {Tag: &pb.Tag{Name: "a", Root: rootPB, Expires: &timestamppb.Timestamp{Nanos: -1}}},
		"far expiry":      {Tag: &pb.Tag{Name: "a", Root: rootPB, Expires: &timestamppb.Timestamp{Seconds: 1 << 40}}},
		"bad updated":     {Tag: &pb.Tag{Name: "a", Root: rootPB, Updated: &timestamppb.Timestamp{Nanos: 2e9}}},
		"absent false":    {Tag: tag("a", rootPB), Expect: &pb.Expect{Expect: &pb.Expect_Absent{}}},
		"bad expect root": {Tag: tag("a", rootPB), Expect: expectRoot(&pb.Node{})},
	} {
		_, err := rc.Set(ctx, req)
		wantCode(t, "Set with "+why, err, codes.InvalidArgument)
	}
	for _, name := range []string{"", "/a", "a b", "ä"} {
		_, err := rc.Get(ctx, &pb.GetTagRequest{Name: name})
		wantCode(t, fmt.Sprintf("Get %q", name), err, codes.InvalidArgument)
		_, err = rc.Delete(ctx, &pb.DeleteTagRequest{Name: name})
		wantCode(t, fmt.Sprintf("Delete %q", name), err, codes.InvalidArgument)
	}
	_, err = rc.Delete(ctx, &pb.DeleteTagRequest{Name: "ci/main", Expect: expectRoot(&pb.Node{})})
	wantCode(t, "Delete expecting an invalid root", err, codes.InvalidArgument)
	ls, err := rc.List(ctx, &pb.ListTagsRequest{Prefix: "a//"})
	if err == nil {
		_, err = ls.Recv()
	}
	wantCode(t, "List of a bad prefix", err, codes.InvalidArgument)

	// Not found and conflicts.
	_, err = rc.Get(ctx, &pb.GetTagRequest{Name: "nothing"})
	wantCode(t, "Get of a missing tag", err, codes.NotFound)
	_, err = rc.Delete(ctx, &pb.DeleteTagRequest{Name: "nothing"})
	wantCode(t, "Delete of a missing tag", err, codes.NotFound)
	_, err = rc.Delete(ctx, &pb.DeleteTagRequest{Name: "nothing", Expect: expectRoot(rootPB)})
	wantCode(t, "Delete expecting a root of a missing tag", err, codes.Aborted)
	_, err = rc.Delete(ctx, &pb.DeleteTagRequest{Name: "ci/main", Expect: absent})
	wantCode(t, "Delete expecting absence of a present tag", err, codes.Aborted)
	if _, err := rc.Delete(ctx, &pb.DeleteTagRequest{Name: "nothing", Expect: absent}); err != nil {
		t.Fatalf("Delete expecting absence of a missing tag: %v", err)
	}

	// Malformed messages are refused before the service sees them.
	for _, method := range []string{"Get", "Set", "Delete"} {
		var out rawMessage
		err := conn.Invoke(ctx, "/castore.v1.RefService/"+method, rawMessage("\xff\xff\xff"), &out, grpc.ForceCodecV2(rawCodec{}))
		if c := status.Code(err); c != codes.Internal && c != codes.InvalidArgument {
			t.Errorf("%s of malformed bytes: %v", method, err)
		}
	}
	for tag, err := range inner.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if tag.Name != "ci/main" {
			t.Errorf("a refused call stored %q", tag.Name)
		}
	}
}

// rawMessage and rawCodec send bytes that are no protobuf message.
type rawMessage []byte

type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(rawMessage))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*rawMessage) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

// failingRefs is a tag store that is down.
type failingRefs struct{}

func (failingRefs) Get(context.Context, string) (castore.Tag, error) { return castore.Tag{}, errDown }
func (failingRefs) Set(context.Context, castore.Tag, castore.Expect) (castore.Tag, error) {
	return castore.Tag{}, errDown
}
func (failingRefs) Delete(context.Context, string, castore.Expect) error { return errDown }
func (failingRefs) List(context.Context, string) iter.Seq2[castore.Tag, error] {
	return func(yield func(castore.Tag, error) bool) { yield(castore.Tag{}, errDown) }
}

// A backend failure is UNAVAILABLE, never a silent success; a cancelled
// call is CANCELED, and the client maps both back.
func TestRefsBackendFailure(t *testing.T) {
	c := grpcapi.NewRefClient(serveRefs(t, failingRefs{}))
	ctx := ctxT(t)
	root := reftest.Root(1)
	check := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.Unavailable || errors.Is(err, castore.ErrNotFound) {
			t.Errorf("%s over a failing store: %v, want UNAVAILABLE", what, err)
		}
	}
	_, err := c.Get(ctx, "a")
	check("Get", err)
	_, err = c.Set(ctx, castore.Tag{Name: "a", Root: root}, castore.ExpectAbsent())
	check("Set", err)
	check("Delete", c.Delete(ctx, "a", castore.ExpectAny))
	for _, err := range c.List(ctx, "") {
		check("List", err)
	}
}

// hostileRefs is a RefService server that answers what answer makes.
type hostileRefs struct {
	pb.UnimplementedRefServiceServer
	answer func(name string) (*pb.Tag, error)
	list   []*pb.Tag
}

func (h hostileRefs) Get(_ context.Context, req *pb.GetTagRequest) (*pb.Tag, error) {
	return h.answer(req.GetName())
}
func (h hostileRefs) Set(_ context.Context, req *pb.SetTagRequest) (*pb.Tag, error) {
	return h.answer(req.GetTag().GetName())
}
func (h hostileRefs) Delete(_ context.Context, req *pb.DeleteTagRequest) (*pb.DeleteTagResponse, error) {
	_, err := h.answer(req.GetName())
	return &pb.DeleteTagResponse{}, err
}
func (h hostileRefs) List(_ *pb.ListTagsRequest, stream grpc.ServerStreamingServer[pb.Tag]) error {
	for _, t := range h.list {
		if err := stream.Send(t); err != nil {
			return err
		}
	}
	return nil
}

func hostileClient(t *testing.T, h hostileRefs) *grpcapi.RefClient {
	l := listenTCP(t)
	s := grpc.NewServer()
	pb.RegisterRefServiceServer(s, h)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return grpcapi.NewRefClient(dial(t, "grpc+http://"+l.Addr().String()))
}

// The client believes nothing a server says that is not the answer asked
// for: ErrCorrupt, never a tag.
func TestRefClientRefusesHostileServers(t *testing.T) {
	ctx := ctxT(t)
	root := reftest.Root(1)
	now := timestamppb.Now()
	good := func(name string) *pb.Tag { return &pb.Tag{Name: name, Root: pb.FromNode(nil, root), Updated: now} }
	for why, answer := range map[string]func(name string) *pb.Tag{
		"another name":  func(string) *pb.Tag { return good("other") },
		"no name":       func(string) *pb.Tag { return good("") },
		"invalid name":  func(string) *pb.Tag { return good("../x") },
		"no root":       func(n string) *pb.Tag { t := good(n); t.Root = nil; return t },
		"named root":    func(n string) *pb.Tag { t := good(n); t.Root = pb.FromNode([]byte("x"), root); return t },
		"short digest":  func(n string) *pb.Tag { t := good(n); t.Root.GetDirectory().Digest = []byte{1}; return t },
		"no updated":    func(n string) *pb.Tag { t := good(n); t.Updated = nil; return t },
		"bad updated":   func(n string) *pb.Tag { t := good(n); t.Updated = &timestamppb.Timestamp{Nanos: -5}; return t },
		"bad expiry":    func(n string) *pb.Tag { t := good(n); t.Expires = &timestamppb.Timestamp{Seconds: -1 << 40}; return t },
		"another root":  func(n string) *pb.Tag { t := good(n); t.Root = pb.FromNode(nil, reftest.Root(2)); return t },
		"an expiry set": func(n string) *pb.Tag { t := good(n); t.Expires = now; return t },
		"empty":         func(string) *pb.Tag { return &pb.Tag{} },
	} {
		c := hostileClient(t, hostileRefs{answer: func(name string) (*pb.Tag, error) { return answer(name), nil }})
		if why != "another root" && why != "an expiry set" {
			if got, err := c.Get(ctx, "a"); !errors.Is(err, castore.ErrCorrupt) {
				t.Errorf("Get answered with %s: %+v, %v; want ErrCorrupt", why, got, err)
			}
		}
		if got, err := c.Set(ctx, castore.Tag{Name: "a", Root: root}, castore.ExpectAny); !errors.Is(err, castore.ErrCorrupt) {
			t.Errorf("Set answered with %s: %+v, %v; want ErrCorrupt", why, got, err)
		}
	}

	// Status codes map back to castore's errors.
	for code, want := range map[codes.Code]error{
		codes.Aborted:            castore.ErrConflict,
		codes.FailedPrecondition: castore.ErrIncomplete,
		codes.NotFound:           castore.ErrNotFound,
		codes.InvalidArgument:    castore.ErrInvalid,
		codes.Unimplemented:      castore.ErrUnsupported,
		codes.DataLoss:           castore.ErrCorrupt,
	} {
		c := hostileClient(t, hostileRefs{answer: func(string) (*pb.Tag, error) { return nil, status.Error(code, "said the server") }})
		_, err := c.Set(ctx, castore.Tag{Name: "a", Root: root}, castore.ExpectAbsent())
		if !errors.Is(err, want) || status.Code(err) != code {
			t.Errorf("Set answered %v: %v, want %v", code, err, want)
		}
		if err := c.Delete(ctx, "a", castore.ExpectRoot(root)); !errors.Is(err, want) {
			t.Errorf("Delete answered %v: %v, want %v", code, err, want)
		}
	}

	// Listings out of order, outside the prefix, repeated, or invalid.
	for why, list := range map[string][]*pb.Tag{
		"out of order":   {good("ci/b"), good("ci/a")},
		"repeated":       {good("ci/a"), good("ci/a")},
		"outside prefix": {good("ci/a"), good("cx")},
		"invalid":        {good("ci/a"), {Name: "ci/b"}},
		"not a name":     {good("ci/")},
	} {
		c := hostileClient(t, hostileRefs{list: list})
		var n int
		var last error
		for _, err := range c.List(ctx, "ci/") {
			n++
			last = err
		}
		if !errors.Is(last, castore.ErrCorrupt) || n != 2 && why != "not a name" {
			t.Errorf("List answered %s: %d results, last %v; want the good one, then ErrCorrupt", why, n, last)
		}
	}
}

// A server without castore.v1.RefService (tvix's, or castore's without a
// tag store) answers UNIMPLEMENTED: the client's calls are ErrUnsupported.
func TestRefClientWithoutRefService(t *testing.T) {
	l := listenTCP(t)
	serve(t, l, chunkstore.NewMemory(), dirstore.NewMemory())
	c := grpcapi.NewRefClient(dial(t, "grpc+http://"+l.Addr().String()))
	ctx := ctxT(t)
	_, err := c.Get(ctx, "a")
	if !errors.Is(err, castore.ErrUnsupported) {
		t.Fatalf("Get: %v, want ErrUnsupported", err)
	}
	if _, err := c.Set(ctx, castore.Tag{Name: "a", Root: reftest.Root(1)}, castore.ExpectAny); !errors.Is(err, castore.ErrUnsupported) {
		t.Fatalf("Set: %v, want ErrUnsupported", err)
	}
	for _, err := range c.List(ctx, "") {
		if !errors.Is(err, castore.ErrUnsupported) {
			t.Fatalf("List: %v, want ErrUnsupported", err)
		}
	}
}

// A deadline that passes is DEADLINE_EXCEEDED, mapped back.
func TestRefClientDeadline(t *testing.T) {
	c := grpcapi.NewRefClient(serveRefs(t, slowRefs{}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get past its deadline: %v", err)
	}
}

// slowRefs answers when the call's context ends.
type slowRefs struct{ failingRefs }

func (slowRefs) Get(ctx context.Context, _ string) (castore.Tag, error) {
	<-ctx.Done()
	return castore.Tag{}, ctx.Err()
}
