package grpcapi_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/grpcapi"
)

// freezeProxy forwards TCP connections to a server until freeze, after
// which it holds every connection open and passes nothing either way: a
// server whose host hung, or a network path that silently dropped.
type freezeProxy struct {
	l      net.Listener
	frozen chan struct{}
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFreezeProxy(t *testing.T, upstream string) *freezeProxy {
	t.Helper()
	p := &freezeProxy{l: listenTCP(t), frozen: make(chan struct{}), done: make(chan struct{})}
	p.wg.Go(func() {
		for {
			down, err := p.l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, down, up)
			p.mu.Unlock()
			p.wg.Go(func() { p.pipe(up, down) })
			p.wg.Go(func() { p.pipe(down, up) })
		}
	})
	t.Cleanup(func() {
		close(p.done)
		p.l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *freezeProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-p.frozen:
				<-p.done
				return
			default:
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezeProxy) freeze() { p.once.Do(func() { close(p.frozen) }) }

// A call to a server that stops answering mid-connection fails with
// UNAVAILABLE once a keepalive ping goes unanswered, rather than hanging
// until the caller's deadline. (grpc-go pings no sooner than 10 s after
// the last frame, so this test takes about 11 s.)
func TestKeepaliveFailsCallsToFrozenServer(t *testing.T) {
	defer grpcapi.SetClientKeepalive(time.Second, time.Second)()
	l := listenTCP(t)
	blobs := chunkstore.NewMemory()
	serve(t, l, blobs, nil)
	proxy := newFreezeProxy(t, l.Addr().String())
	// Without retries: a retry would wait for a new connection through
	// the frozen proxy (gRPC's 20 s connect timeout) before failing.
	c := pb.NewBlobServiceClient(dial(t, "grpc+http://"+proxy.l.Addr().String(), noRetry))
	d := castore.Sum([]byte("x"))
	if _, err := c.Stat(t.Context(), &pb.StatBlobRequest{Digest: d[:]}); status.Code(err) != codes.NotFound {
		t.Fatalf("Stat through the proxy: %v, want NotFound", err)
	}

	proxy.freeze()
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	_, err := c.Stat(ctx, &pb.StatBlobRequest{Digest: d[:]})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Stat of a frozen server: %v, want UNAVAILABLE from the keepalive (a deadline error means the call hung)", err)
	}
}
