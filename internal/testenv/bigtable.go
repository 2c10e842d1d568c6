package testenv

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// BigtableEmulatorServer is the Cloud Bigtable emulator (bin/emulator, from
// cloud.google.com/go/bigtable/cmd/emulator) started by BigtableEmulator for
// one test. It keeps its tables in memory: a restart loses them.
type BigtableEmulatorServer struct {
	// Host is 127.0.0.1:<port>, the value for BIGTABLE_EMULATOR_HOST.
	Host string
	// Project and Instance are names to use with it; the emulator accepts
	// any.
	Project, Instance string

	proc *process
}

// BigtableEmulator starts bin/emulator on a free loopback port and kills it
// when the test ends. It does not set BIGTABLE_EMULATOR_HOST; see SetEnv.
func BigtableEmulator(t testing.TB) *BigtableEmulatorServer {
	t.Helper()
	bin := Tool(t, "emulator")
	dir := t.TempDir()
	port := FreePort(t)
	e := &BigtableEmulatorServer{
		Host:     hostPort(port),
		Project:  "castore-test",
		Instance: RandomName("castore-"),
	}
	e.proc = &process{
		t:       t,
		name:    "bigtable emulator",
		bin:     bin,
		args:    []string{"-host", "127.0.0.1", "-port", strconv.Itoa(port)},
		logPath: filepath.Join(dir, "bigtable-emulator.log"),
		ready:   tcpReady(e.Host),
	}
	t.Cleanup(e.proc.stop)
	e.proc.start()
	return e
}

// tcpReady returns a readiness check that connects to addr.
func tcpReady(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// Stop kills the emulator as a crash would and waits for it to exit.
func (e *BigtableEmulatorServer) Stop() { e.proc.stop() }

// Start restarts a stopped emulator on the same port, empty.
func (e *BigtableEmulatorServer) Start() {
	e.proc.t.Helper()
	e.proc.start()
}

// PID returns the emulator's process id, or 0 while it is stopped.
func (e *BigtableEmulatorServer) PID() int { return e.proc.pid() }

// SetEnv points Bigtable clients at the emulator for the rest of the test
// (t.Setenv, so not for parallel tests).
func (e *BigtableEmulatorServer) SetEnv(t testing.TB) {
	t.Setenv("BIGTABLE_EMULATOR_HOST", e.Host)
}

// Dial returns a plaintext gRPC connection to the emulator, closed when
// the test ends, with extra dial options (interceptors, say). Like the
// Bigtable client's own connections it allows messages of up to 256 MiB.
func (e *BigtableEmulatorServer) Dial(t testing.TB, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(e.Host, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<28), grpc.MaxCallSendMsgSize(1<<28)),
	}, opts...)...)
	if err != nil {
		t.Fatalf("dialing the bigtable emulator at %s: %v", e.Host, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// CreateTable creates a table with one column family in the emulator's
// instance.
func (e *BigtableEmulatorServer) CreateTable(ctx context.Context, t testing.TB, table, family string) {
	t.Helper()
	if err := e.createTable(ctx, table, family); err != nil {
		t.Fatalf("creating bigtable table %s with family %s on the emulator: %v", table, family, err)
	}
}

func (e *BigtableEmulatorServer) createTable(ctx context.Context, table, family string) error {
	conn, err := grpc.NewClient(e.Host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	admin, err := bigtable.NewAdminClient(ctx, e.Project, e.Instance, option.WithGRPCConn(conn), option.WithoutAuthentication())
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.CreateTable(ctx, table); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	if err := admin.CreateColumnFamily(ctx, table, family); err != nil {
		return fmt.Errorf("create column family: %w", err)
	}
	return nil
}
