package testenv

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// ToxiproxyServer is Shopify's toxiproxy, started by Toxiproxy for one
// test: a TCP proxy whose links can be made slow (latency, bandwidth) to
// stand in for a real network. It listens on loopback only, and so do the
// links it makes.
type ToxiproxyServer struct {
	// API is the control endpoint, 127.0.0.1:<port>.
	API string

	client *toxiproxy.Client
	proc   *process
	n      atomic.Int64
}

// Toxiproxy starts bin/toxiproxy-server on a free loopback port and kills
// it when the test ends.
func Toxiproxy(t testing.TB) *ToxiproxyServer {
	t.Helper()
	bin := Tool(t, "toxiproxy-server")
	port := FreePort(t)
	s := &ToxiproxyServer{API: hostPort(port)}
	s.client = toxiproxy.NewClient(s.API)
	s.proc = &process{
		t:       t,
		name:    "toxiproxy-server",
		bin:     bin,
		args:    []string{"-host", "127.0.0.1", "-port", fmt.Sprint(port)},
		env:     []string{"LOG_LEVEL=warn"},
		logPath: filepath.Join(t.TempDir(), "toxiproxy.log"),
		ready:   httpReady("http://" + s.API + "/version"),
	}
	t.Cleanup(s.proc.stop)
	s.proc.start()
	return s
}

// Link is one proxied TCP connection path: clients dial Addr and reach
// the upstream through it, slowed by whatever the link has been set to.
type Link struct {
	// Addr is where clients connect, 127.0.0.1:<port>.
	Addr string
	// Upstream is the address the link forwards to.
	Upstream string

	proxy *toxiproxy.Proxy
}

// Link returns a new link to upstream (host:port, on loopback), listening
// on a free loopback port, with no toxics yet: as fast as loopback.
func (s *ToxiproxyServer) Link(t testing.TB, upstream string) *Link {
	t.Helper()
	name := fmt.Sprintf("link%d", s.n.Add(1))
	listen := hostPort(FreePort(t))
	p, err := s.client.CreateProxy(name, listen, upstream)
	if err != nil {
		t.Fatalf("toxiproxy: creating a link to %s: %v", upstream, err)
	}
	t.Cleanup(func() { p.Delete() })
	return &Link{Addr: listen, Upstream: upstream, proxy: p}
}

// streams are the two directions of a link, as toxiproxy names them:
// upstream is client to server, downstream server to client.
var streams = []string{"upstream", "downstream"}

// SetRTT makes every round trip over the link take rtt more: each
// direction is delayed by half of it. Zero removes the delay.
func (l *Link) SetRTT(t testing.TB, rtt time.Duration) {
	t.Helper()
	oneWay := rtt / 2
	l.set(t, "latency", toxiproxy.Attributes{"latency": oneWay.Milliseconds()}, oneWay > 0)
}

// SetBandwidth limits each direction of the link to bytesPerSecond (1 KB
// granularity, as toxiproxy counts). Zero removes the limit.
func (l *Link) SetBandwidth(t testing.TB, bytesPerSecond int64) {
	t.Helper()
	rate := bytesPerSecond / 1000
	if bytesPerSecond > 0 && rate == 0 {
		rate = 1
	}
	l.set(t, "bandwidth", toxiproxy.Attributes{"rate": rate}, rate > 0)
}

// set puts (or, when !on, removes) the toxic of that type on both
// directions.
func (l *Link) set(t testing.TB, typ string, attrs toxiproxy.Attributes, on bool) {
	t.Helper()
	for _, stream := range streams {
		name := typ + "_" + stream
		l.proxy.RemoveToxic(name) // absent is fine
		if !on {
			continue
		}
		if _, err := l.proxy.AddToxic(name, typ, stream, 1, attrs); err != nil {
			t.Fatalf("toxiproxy: setting %s on %s: %v", typ, l.Addr, err)
		}
	}
}

// Cut refuses new connections and drops open ones until Restore.
func (l *Link) Cut(t testing.TB) {
	t.Helper()
	if err := l.proxy.Disable(); err != nil {
		t.Fatalf("toxiproxy: cutting %s: %v", l.Addr, err)
	}
}

// Restore undoes Cut.
func (l *Link) Restore(t testing.TB) {
	t.Helper()
	if err := l.proxy.Enable(); err != nil {
		t.Fatalf("toxiproxy: restoring %s: %v", l.Addr, err)
	}
}
