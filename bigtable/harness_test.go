package bigtable_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	gbt "cloud.google.com/go/bigtable"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/bigtable"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/internal/testenv"
)

const family = "cf"

// counter counts the Bigtable RPCs a client sends, by method name
// (ReadRows, MutateRows, CheckAndMutateRow, ...), retries included.
type counter struct {
	mu sync.Mutex
	n  map[string]int
	// fail, if set, makes every call of that method fail with
	// PermissionDenied (which the client does not retry).
	fail atomic.Value // string
}

func newCounter() *counter { return &counter{n: map[string]int{}} }

func (c *counter) add(method string) error {
	name := method[strings.LastIndex(method, "/")+1:]
	c.mu.Lock()
	c.n[name]++
	c.mu.Unlock()
	if f, _ := c.fail.Load().(string); f == name {
		return status.Errorf(codes.PermissionDenied, "injected failure of %s", name)
	}
	return nil
}

func (c *counter) get(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

func (c *counter) reset() {
	c.mu.Lock()
	c.n = map[string]int{}
	c.mu.Unlock()
}

// writes counts every request that writes.
func (c *counter) writes() int {
	return c.get("MutateRows") + c.get("MutateRow") + c.get("CheckAndMutateRow")
}

func (c *counter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.n)
}

func (c *counter) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if err := c.add(method); err != nil {
				return err
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			if err := c.add(method); err != nil {
				return nil, err
			}
			return streamer(ctx, desc, cc, method, opts...)
		}),
	}
}

// fixture is one emulator and the tables made on it.
type fixture struct {
	emu *testenv.BigtableEmulatorServer
}

func newFixture(t testing.TB) *fixture {
	return &fixture{emu: testenv.BigtableEmulator(t)}
}

// params returns the parameters of a new, empty table.
func (f *fixture) params(t testing.TB) bigtable.Params {
	table := testenv.RandomName("dirs-")
	f.emu.CreateTable(context.Background(), t, table, family)
	return bigtable.Params{ProjectID: f.emu.Project, InstanceName: f.emu.Instance, TableName: table, FamilyName: family}
}

// open opens a service on p over a connection counted by c (if not nil).
func (f *fixture) open(t testing.TB, p bigtable.Params, c *counter) *bigtable.Service {
	t.Helper()
	var dial []grpc.DialOption
	if c != nil {
		dial = c.dialOptions()
	}
	conn := f.emu.Dial(t, dial...)
	s, err := bigtable.Open(context.Background(), p, option.WithGRPCConn(conn), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// raw returns a plain Bigtable client on the table of p, to look at and
// plant cells behind the service's back.
func (f *fixture) raw(t testing.TB, p bigtable.Params) *gbt.Table {
	t.Helper()
	conn := f.emu.Dial(t)
	c, err := gbt.NewClientWithConfig(context.Background(), p.ProjectID, p.InstanceName,
		gbt.ClientConfig{MetricsProvider: gbt.NoopMetricsProvider{}}, option.WithGRPCConn(conn), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.Open(p.TableName)
}

func file(name string, seed int) castore.Entry {
	return castore.Entry{Name: castore.PathComponent(name), Node: castore.FileNode(castore.Sum([]byte(fmt.Sprint(seed))), uint64(seed), false)}
}

// wideTree returns a closure, leaves first: a root over mids directories
// of perMid leaf directories each; 1+mids*(perMid+1) directories, depth 3.
func wideTree(t testing.TB, mids, perMid int) []*castore.Directory {
	var all []*castore.Directory
	var ms []castore.Entry
	n := 0
	for i := range mids {
		var leaves []castore.Entry
		for j := range perMid {
			n++
			l := dirtest.MustDir(t, file("f", n), file(fmt.Sprintf("g%d", j), i))
			all = append(all, l)
			leaves = append(leaves, dirtest.Sub(fmt.Sprintf("l%03d", j), l))
		}
		m := dirtest.MustDir(t, leaves...)
		all = append(all, m)
		ms = append(ms, dirtest.Sub(fmt.Sprintf("m%03d", i), m))
	}
	return append(all, dirtest.MustDir(t, ms...))
}

// chain returns a closure of depth n, leaves first: each directory holds
// a file and the previous one.
func chain(t testing.TB, n int) []*castore.Directory {
	d := dirtest.MustDir(t, file("f", 0))
	all := []*castore.Directory{d}
	for i := 1; i < n; i++ {
		d = dirtest.MustDir(t, file("f", i), dirtest.Sub("d", d))
		all = append(all, d)
	}
	return all
}

func collect(ctx context.Context, s castore.DirectoryService, root castore.Digest) ([]*castore.Directory, error) {
	var out []*castore.Directory
	for d, err := range s.GetRecursive(ctx, root) {
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}
