package grpcapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/castore-go/castore/internal/redact"
)

// MaxMessageSize bounds any single message a client or server accepts.
// Blob data travels in ReadMessageSize pieces and directories are far
// smaller, so this only has to cover large directories.
const MaxMessageSize = 64 << 20

// clientKeepalive is how a connection made by Dial notices a server that
// stopped answering (a crashed host, a dropped network path) while calls
// are in flight: after ClientKeepaliveTime without a frame it pings, and
// closes the connection if no answer comes within ClientKeepaliveTimeout,
// failing its calls with UNAVAILABLE instead of leaving them hanging.
// `castore serve` accepts pings every 20 s. A test shortens it.
var clientKeepalive = keepalive.ClientParameters{Time: ClientKeepaliveTime, Timeout: ClientKeepaliveTimeout}

// See clientKeepalive.
const (
	ClientKeepaliveTime    = 30 * time.Second
	ClientKeepaliveTimeout = 10 * time.Second
)

// The flow-control windows a client connection made by Dial advertises:
// per stream, above the largest chunk castore cuts (512 KiB); per
// connection, a BlobClient's read-ahead of 8 such chunks.
const (
	ClientStreamWindow = 1 << 20
	ClientConnWindow   = 8 << 20
)

// The flow-control windows a server with ServerOptions advertises, fixed
// from the first byte. grpc-go's default starts at 64 KiB and grows by BDP
// estimation (to at most 16 MiB), a round trip or more each step: a client
// 100 ms away that puts many chunks at once waited on window updates for
// most of a second. Importing src/crypto (1,168 files) 100 ms away took
// 2.04-2.11 s with the default and 1.24-1.28 s with these (three pairs);
// 10 ms away at 50 MB/s, 1.17-1.37x the import over loopback against
// 0.94-1.11x. A connection buffers at most ServerConnWindow of data its
// handlers have not read, as much as the estimator allowed; one stream
// may use half of it, so a single large Put is not held to a window a
// round trip.
const (
	ServerStreamWindow = 8 << 20
	ServerConnWindow   = 16 << 20
)

// Dial connects to a castore (or tvix) server at addr:
//
//	grpc+unix:///path/to.sock
//	grpc+http://host:port
//	grpc+https://host:port[?ca=FILE][&cert=FILE&key=FILE]
//	grpc+http://host:port,host:port,...   (and grpc+https): a fleet named in full
//
// A grpc+http(s) address balances its calls round_robin over every
// frontend: every address the host's name resolves to (a headless
// Kubernetes Service's name gives one per pod), or each host:port of a
// comma-separated list (each once, each with its port; a name in the list
// is one frontend, dialled at the first of its addresses that answers).
// With more than one frontend, one whose health service says NOT_SERVING,
// or that does not answer, gets no calls until it is back. The calls
// that only read are retried on UNAVAILABLE, on another frontend when
// there is one (balance.go).
//
// A bearer token for servers that want one is read from the file named by
// ?token-file=FILE, else from the CASTORE_TOKEN environment variable; it is
// only sent over TLS, a unix socket or loopback.
// With ?wait-connect=1 it connects eagerly and fails if the server (with
// several, any one of them, ready to serve) cannot be reached before ctx
// ends; otherwise it connects on first use. A path on an http(s) address,
// a host on a unix address, and unknown options are errors; so are, in a
// list, an empty or repeated host, a host without a port, and more than
// 256 hosts.
func Dial(ctx context.Context, addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if !strings.Contains(addr, "://") {
		return nil, fmt.Errorf("grpc address %q: unknown scheme: write grpc+http://host:port, grpc+https://host:port or grpc+unix:///path.sock", redacted(addr))
	}
	hosts, single, err := splitHosts(addr)
	if err != nil {
		return nil, fmt.Errorf("grpc address %q: %w", redacted(addr), err)
	}
	u, err := url.Parse(single)
	if err != nil {
		return nil, fmt.Errorf("grpc address %q: %w", redacted(addr), errors.Unwrap(err))
	}
	q := u.Query()
	waitConnect := false
	switch v := q.Get("wait-connect"); v {
	case "", "0", "false":
	case "1", "true":
		waitConnect = true
	default:
		return nil, fmt.Errorf("grpc address %q: wait-connect must be 0 or 1, got %q", redacted(addr), v)
	}
	q.Del("wait-connect")

	token, err := readToken(q.Get("token-file"))
	if err != nil {
		return nil, fmt.Errorf("grpc address %q: %w", redacted(addr), err)
	}
	q.Del("token-file")

	var target string
	creds := insecure.NewCredentials()
	local := u.Scheme == "grpc+unix" || isLoopback(u.Hostname())
	if len(hosts) > 1 && u.Scheme != "grpc+http" && u.Scheme != "grpc+https" {
		return nil, fmt.Errorf("grpc address %q: only a grpc+http(s) address may name several hosts", redacted(addr))
	}
	switch u.Scheme {
	case "grpc+unix":
		if u.Host != "" {
			return nil, fmt.Errorf("grpc address %q: a unix socket address has no host: write grpc+unix:///abs/path.sock", redacted(addr))
		}
		if u.Path == "" {
			return nil, fmt.Errorf("grpc address %q: the socket path is missing", redacted(addr))
		}
		target = "unix://" + u.Path
	case "grpc+http", "grpc+https":
		if u.Host == "" {
			return nil, fmt.Errorf("grpc address %q: host:port is missing", redacted(addr))
		}
		if u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("grpc address %q: a path (%q) is not allowed on an http(s) address", redacted(addr), u.Path)
		}
		if u.Port() == "" {
			return nil, fmt.Errorf("grpc address %q: the port is missing", redacted(addr))
		}
		for _, h := range hosts[1:] {
			if err := checkHost(h); err != nil {
				return nil, fmt.Errorf("grpc address %q: %w", redacted(addr), err)
			}
			hu, _ := url.Parse("x://" + h)
			local = local && isLoopback(hu.Hostname())
		}
		hosts[0] = u.Host
		target = fleetScheme + ":///" + strings.Join(hosts, ",")
		if u.Scheme == "grpc+https" {
			cfg, err := clientTLS(q)
			if err != nil {
				return nil, fmt.Errorf("grpc address %q: %w", redacted(addr), err)
			}
			creds = credentials.NewTLS(cfg)
		}
	default:
		return nil, fmt.Errorf("grpc address %q: unknown scheme %q (want grpc+unix, grpc+http or grpc+https)", redacted(addr), u.Scheme)
	}
	for k := range q {
		return nil, fmt.Errorf("grpc address %q: unknown option %q", redacted(addr), k)
	}

	if token != "" {
		if u.Scheme != "grpc+https" && !local {
			return nil, fmt.Errorf("grpc address %q: refusing to send a token over plain http to a remote host: use grpc+https", redacted(addr))
		}
		opts = append(opts, WithToken(token, u.Scheme != "grpc+https"))
	}
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		// Flow-control windows that hold a chunk per stream and a reader's
		// read-ahead per connection, so the server never waits for a
		// window update mid-chunk. With the defaults (64 KiB, grown by
		// BDP estimation, which these turn off) a 1 GiB read on loopback
		// with 8 chunks in flight took 1.75-1.9 s on a fresh connection;
		// with these, 0.94-1.05 s. A connection buffers at most
		// ClientConnWindow of unread data.
		grpc.WithInitialWindowSize(ClientStreamWindow),
		grpc.WithInitialConnWindowSize(ClientConnWindow),
		grpc.WithKeepaliveParams(clientKeepalive),
		grpc.WithResolvers(fleetResolver{}),
		grpc.WithDefaultServiceConfig(serviceConfig(false)),
		grpc.WithConnectParams(connectParams),
	}, opts...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("grpc address %q: %w", redacted(addr), err)
	}
	if waitConnect {
		conn.Connect()
		for s := conn.GetState(); s != connectivity.Ready; s = conn.GetState() {
			if !conn.WaitForStateChange(ctx, s) {
				conn.Close()
				return nil, fmt.Errorf("connect to %s: %w (last state %s)", redacted(addr), ctx.Err(), s)
			}
		}
	}
	return conn, nil
}

// connectParams is how a client reconnects to a frontend it lost:
// gRPC's backoff (1 s, growing 1.6 times a try) but at most maxReconnect
// apart, so that a frontend back from a restart gets calls again within
// seconds, not gRPC's default two minutes.
var connectParams = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxReconnect},
	MinConnectTimeout: 20 * time.Second,
}

// maxReconnect bounds the wait between attempts to reach a frontend.
const maxReconnect = 5 * time.Second

// maxHosts bounds how many frontends one address may name.
const maxHosts = 256

// splitHosts finds the hosts of addr's authority, separated by commas,
// and returns them with addr holding only the first (for url.Parse,
// which takes one host). A user info stays with the first host. An
// address without a comma is returned as it is.
func splitHosts(addr string) (hosts []string, single string, err error) {
	scheme, rest, ok := strings.Cut(addr, "://")
	if !ok {
		return nil, addr, nil
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	userinfo, hostList := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hostList = authority[:i+1], authority[i+1:]
	}
	hosts = strings.Split(hostList, ",")
	if strings.Contains(userinfo, ",") {
		return nil, "", fmt.Errorf("a comma in the user info: a list of hosts is host:port,host:port after any user info")
	}
	if len(hosts) == 1 {
		return hosts, addr, nil
	}
	if len(hosts) > maxHosts {
		return nil, "", fmt.Errorf("%d hosts: at most %d", len(hosts), maxHosts)
	}
	seen := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		if h == "" {
			return nil, "", fmt.Errorf("an empty host in the list: write host:port,host:port")
		}
		if seen[h] {
			return nil, "", fmt.Errorf("host %q is named twice", h)
		}
		seen[h] = true
	}
	return hosts, scheme + "://" + userinfo + hosts[0] + rest[end:], nil
}

// checkHost checks one host:port of a list, as url.Parse and Dial check
// the first.
func checkHost(h string) error {
	u, err := url.Parse("x://" + h)
	switch {
	case err != nil:
		return fmt.Errorf("host %q: %w", h, errors.Unwrap(err))
	case u.Host != h || u.User != nil:
		return fmt.Errorf("host %q: want host:port", h)
	case u.Port() == "":
		return fmt.Errorf("host %q: the port is missing", h)
	case u.Hostname() == "":
		return fmt.Errorf("host %q: the host is missing", h)
	}
	return nil
}

// clientTLS builds the client's TLS configuration from the address options
// ca, cert and key (files), consuming them from q.
func clientTLS(q url.Values) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := q.Get("ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca %s: no PEM certificates in it", ca)
		}
		cfg.RootCAs = pool
	}
	cert, key := q.Get("cert"), q.Get("key")
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("cert and key must be given together")
	}
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	for _, k := range []string{"ca", "cert", "key"} {
		q.Del(k)
	}
	return cfg, nil
}

// redacted is what an error may show of an address: no user info, and the
// values of Dial's own options only (file names and a flag).
// A list of hosts is shown whole (hosts are no secret; url.Parse, which
// redact uses, takes one).
func redacted(addr string) string {
	show := func(param string) bool {
		return slices.Contains([]string{"ca", "cert", "key", "token-file", "wait-connect"}, param)
	}
	hosts, single, err := splitHosts(addr)
	if err != nil || len(hosts) < 2 {
		return redact.URL(addr, show)
	}
	return strings.Replace(redact.URL(single, show), hosts[0], strings.Join(hosts, ","), 1)
}

// readToken reads a bearer token from file, or from CASTORE_TOKEN.
func readToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv("CASTORE_TOKEN")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token-file %s is empty", file)
	}
	return t, nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
