package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/internal/redact"
)

// storeFlags are the flags every command that opens stores has.
type storeFlags struct {
	dataDir  string
	blobAddr string
	dirAddr  string
	refAddr  string
	config   string
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.dataDir, "data-dir", "", "directory of the embedded local stores (default $XDG_DATA_HOME/castore or ~/.local/share/castore)")
	fs.StringVar(&s.blobAddr, "blob-service-addr", "", "blob service URL: objectstore+file:///abs, objectstore+s3://bucket/prefix, objectstore+gs://bucket/prefix, grpc+http://host:port[,host:port...], memory://")
	fs.StringVar(&s.dirAddr, "directory-service-addr", "", "directory service URL: bolt:///abs/path.db, objectstore+s3://.., bigtable://instance?.., grpc+http://host:port[,host:port...], memory://")
	fs.StringVar(&s.refAddr, "ref-service-addr", "", "tag service URL: bolt:///abs/refs.db, objectstore+s3://.., grpc+http://host:port[,host:port...], memory:// (default: beside the directory service: DATA_DIR/refs.db, the same object store under refs/, the same server)")
	fs.StringVar(&s.config, "config", "", "YAML composition file; its services named 'default' are used")
}

// defaultDataDir is $XDG_DATA_HOME/castore, else ~/.local/share/castore.
func defaultDataDir(env *environment) (string, error) {
	if x := env.getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "castore"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --data-dir, no XDG_DATA_HOME and no home directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "castore"), nil
}

// embeddedCompression is the embedded store's zstd level: the fastest.
// It keeps a quarter of the CPU of an import of GOROOT (user time 1.9-2.5 s
// against 2.8-3.0 s, three runs each on 2 loaded cores) for 4% more bytes
// on disk (76 MB of packs against 73 MB).
const embeddedCompression = "?compression=fastest"

// embeddedAddrs are the URLs of the embedded default stores in dataDir:
// chunked blobs in pack files in dataDir/packs and directories in
// dataDir/directories.db. A data dir made before pack files keeps its
// one file per chunk in dataDir/blobs.
func embeddedAddrs(dataDir string) (blobs, dirs string, err error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", "", err
	}
	dirs = "bolt://" + filepath.Join(abs, "directories.db")
	if fi, err := os.Stat(filepath.Join(abs, "blobs")); err == nil && fi.IsDir() {
		return "objectstore+file://" + filepath.Join(abs, "blobs"), dirs, nil
	}
	if err := os.MkdirAll(filepath.Join(abs, "packs"), 0o700); err != nil {
		return "", "", fmt.Errorf("data dir: %w", err)
	}
	return "objectstore+pack://" + filepath.Join(abs, "packs") + embeddedCompression, dirs, nil
}

// options resolves the flags into compose options: a config file, or two
// addresses where the missing ones default to the embedded stores in the
// data dir.
func (s *storeFlags) options(env *environment) (compose.Options, error) {
	if s.config != "" {
		if s.blobAddr != "" || s.dirAddr != "" || s.refAddr != "" {
			return compose.Options{}, usagef("--config excludes --blob-service-addr, --directory-service-addr and --ref-service-addr")
		}
		return compose.Options{ConfigFile: s.config}, nil
	}
	opts := compose.Options{BlobServiceAddr: s.blobAddr, DirectoryServiceAddr: s.dirAddr, RefServiceAddr: s.refAddr}
	if opts.BlobServiceAddr != "" && opts.DirectoryServiceAddr != "" {
		return opts, nil
	}
	dataDir := s.dataDir
	if dataDir == "" {
		var err error
		if dataDir, err = defaultDataDir(env); err != nil {
			return opts, err
		}
	}
	b, d, err := embeddedAddrs(dataDir)
	if err != nil {
		return opts, err
	}
	if opts.BlobServiceAddr == "" {
		opts.BlobServiceAddr = b
	}
	if opts.DirectoryServiceAddr == "" {
		opts.DirectoryServiceAddr = d
	}
	return opts, nil
}

// serveFlags are the flags of castore serve.
type serveFlags struct {
	store          storeFlags
	listen         *string
	grace          *time.Duration
	drainDelay     *time.Duration
	maxConnAge     *time.Duration
	maxConnGrace   *time.Duration
	logFormat      *string
	logLevel       *string
	tlsCert        *string
	tlsKey         *string
	tlsClientCA    *string
	authTokens     *string
	readOnly       *bool
	insecureListen *bool
	metricsListen  *string
	maxStreams     *uint
	backendTimeout *time.Duration
	maxDirPut      *int64
	httpListen     *string
	http           httpFlags
}

func newServeFlagSet(env *environment) (*flag.FlagSet, *serveFlags) {
	fs := newFlagSet(env, "serve", "", "Serve the tvix.castore.v1 BlobService and DirectoryService over gRPC\n(and castore.v1.ChunkService, which castore clients read chunks through,\nand castore.v1.RefService, tags: named roots).\nWith no store flags it serves the embedded local default: chunked blobs in\npack files in DATA_DIR/packs, directories in DATA_DIR/directories.db and\ntags in DATA_DIR/refs.db.")
	f := &serveFlags{}
	f.store.register(fs)
	f.listen = fs.String("listen", "127.0.0.1:8000", "address to listen on: host:port, or unix:/path/to.sock")
	f.grace = fs.Duration("grace-period", 10*time.Second, "on SIGINT/SIGTERM, how long in-flight calls may finish")
	f.drainDelay = fs.Duration("drain-delay", DefaultDrainDelay, "on SIGINT/SIGTERM, how long to keep serving, and taking connections, after the health service says NOT_SERVING and before the grace period starts: balancing clients move their calls to other frontends meanwhile; 0 means none")
	f.maxConnAge = fs.Duration("max-connection-age", DefaultMaxConnectionAge, "ask a client to reconnect after its connection is this old (±10%), so that clients spread over frontends added since; calls in flight go on; 0 means never")
	f.maxConnGrace = fs.Duration("max-connection-age-grace", DefaultMaxConnectionAgeGrace, "how long calls in flight on a connection past --max-connection-age may go on before it is closed; 0 means for ever")
	f.logFormat = fs.String("log-format", "text", "log format: text or json")
	f.logLevel = fs.String("log-level", "info", "log level: debug, info, warn or error")
	f.tlsCert = fs.String("tls-cert", "", "PEM certificate to serve TLS with (reloaded when it changes)")
	f.tlsKey = fs.String("tls-key", "", "PEM private key of --tls-cert")
	f.tlsClientCA = fs.String("tls-client-ca", "", "PEM CA that client certificates must be signed by (mutual TLS)")
	f.authTokens = fs.String("auth-tokens", "", "file of bearer tokens: one 'SHA256-HEX read|write' per line; every call then needs one")
	f.readOnly = fs.Bool("read-only", false, "refuse every write")
	f.insecureListen = fs.Bool("insecure-listen", false, "allow listening on a non-loopback address without TLS (plaintext: anyone on the path reads the data, and any tokens)")
	f.metricsListen = fs.String("metrics-listen", "", "serve Prometheus metrics on this address (host:port) at /metrics")
	f.maxStreams = fs.Uint("max-concurrent-streams", 256, "most concurrent calls one client connection may have")
	f.backendTimeout = fs.Duration("backend-timeout", compose.DefaultBackendTimeout, "bound on each object store call (a chunk, an index, a bundle); 0 means none")
	f.httpListen = fs.String("http-listen", "", "also serve the stores' trees over HTTP on this address (host:port or unix:/path), with the same TLS and tokens: see castore http --help")
	f.http.register(fs)
	f.maxDirPut = fs.Int64("max-directory-put-bytes", grpcapi.DefaultMaxDirectoryPutBytes, "largest closure one directory Put may send, in bytes (it is held until its root arrives)")
	return fs, f
}

// parseServeFlags parses and checks the flags of castore serve, touching
// nothing (no file, socket or store): the Helm chart's test runs it on the
// arguments the chart renders.
func parseServeFlags(env *environment, args []string) (*flag.FlagSet, *serveFlags, error) {
	fs, f := newServeFlagSet(env)
	if err := parseFlags(fs, env, args); err != nil {
		return nil, nil, err
	}
	if (*f.tlsCert == "") != (*f.tlsKey == "") {
		return nil, nil, usagef("--tls-cert and --tls-key go together")
	}
	if *f.tlsClientCA != "" && *f.tlsCert == "" {
		return nil, nil, usagef("--tls-client-ca needs --tls-cert and --tls-key")
	}
	if err := checkListen("--listen", *f.listen, *f.tlsCert != "", *f.authTokens != "", *f.insecureListen); err != nil {
		return nil, nil, err
	}
	if *f.httpListen != "" {
		if err := checkListen("--http-listen", *f.httpListen, *f.tlsCert != "", *f.authTokens != "", *f.insecureListen); err != nil {
			return nil, nil, err
		}
	}
	if fs.NArg() > 0 {
		return nil, nil, usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *f.backendTimeout < 0 {
		return nil, nil, usagef("--backend-timeout %s: want a positive duration, or 0 for none", *f.backendTimeout)
	}
	if *f.maxDirPut <= 0 {
		return nil, nil, usagef("--max-directory-put-bytes %d: want a positive number of bytes", *f.maxDirPut)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--drain-delay", *f.drainDelay}, {"--max-connection-age", *f.maxConnAge}, {"--max-connection-age-grace", *f.maxConnGrace}} {
		if d.v < 0 {
			return nil, nil, usagef("%s %s: want a positive duration, or 0", d.name, d.v)
		}
	}
	if *f.maxStreams == 0 {
		return nil, nil, usagef("--max-concurrent-streams 0: want at least 1")
	}
	if _, err := newLogger(env, *f.logFormat, *f.logLevel); err != nil {
		return nil, nil, err
	}
	if f.store.config != "" && (f.store.blobAddr != "" || f.store.dirAddr != "") {
		return nil, nil, usagef("--config excludes --blob-service-addr and --directory-service-addr")
	}
	return fs, f, nil
}

func runServe(ctx context.Context, env *environment, args []string) error {
	_, f, err := parseServeFlags(env, args)
	if err != nil {
		return err
	}
	tel, err := setupTelemetry(ctx, env)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer tel.close()
	srvOpts := append(grpcapi.ServerOptions(), tel.serverOption(),
		grpc.MaxConcurrentStreams(uint32(*f.maxStreams)),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Minute, Timeout: 20 * time.Second, MaxConnectionIdle: 30 * time.Minute,
			MaxConnectionAge: *f.maxConnAge, MaxConnectionAgeGrace: *f.maxConnGrace}),
	)
	if *f.tlsCert != "" {
		cfg, err := grpcapi.ServerTLS(*f.tlsCert, *f.tlsKey, *f.tlsClientCA)
		if err != nil {
			return err
		}
		srvOpts = append(srvOpts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	access := &grpcapi.Access{ReadOnly: *f.readOnly}
	if *f.authTokens != "" {
		tokens, err := grpcapi.LoadTokens(*f.authTokens)
		if err != nil {
			return err
		}
		access.Tokens = tokens
	}
	log, err := newLogger(env, *f.logFormat, *f.logLevel)
	if err != nil {
		return err
	}
	access.Logger = log
	srvOpts = append(srvOpts, access.Interceptors()...)
	opts, err := f.store.options(env)
	if err != nil {
		return err
	}
	opts.BackendTimeout = *f.backendTimeout
	if opts.BackendTimeout == 0 {
		opts.BackendTimeout = -1 // none
	}
	svcs, err := compose.Open(ctx, compose.DefaultRegistry(), opts)
	if err != nil {
		return err
	}
	defer svcs.Close()
	if opts.ConfigFile != "" {
		log.Info("services", "config", opts.ConfigFile)
	} else {
		log.Info("services", "blobs", redact.URL(opts.BlobServiceAddr, redact.NotSecret), "directories", redact.URL(opts.DirectoryServiceAddr, redact.NotSecret))
	}
	log.Info("access", "tls", *f.tlsCert != "", "mutual_tls", *f.tlsClientCA != "", "tokens", *f.authTokens != "", "read_only", *f.readOnly)

	l, err := listenOn(*f.listen)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(srvOpts...)
	grpcapi.Register(srv, svcs.Blobs, svcs.Directories, grpcapi.WithMaxDirectoryPutBytes(*f.maxDirPut))
	// Tags: Set refuses a root whose closure is not all here.
	var tags castore.RefService
	switch refs, err := svcs.CompleteRefs(ctx); {
	case err == nil:
		grpcapi.RegisterRefs(srv, refs)
		tags = refs
	case errors.Is(err, castore.ErrUnsupported):
		log.Info("no ref service: castore.v1.RefService is not served", "reason", err)
	default:
		return fmt.Errorf("ref service: %w", err)
	}
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	go awaitBackends(ctx, log, hs, svcs)

	if *f.metricsListen != "" {
		stopMetrics, err := tel.serveMetrics(ctx, *f.metricsListen)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		defer stopMetrics()
		log.Info("metrics", "listen", *f.metricsListen)
	}
	if *f.httpListen != "" {
		hs, err := startHTTP(httpConfig{listen: *f.httpListen, tlsCert: *f.tlsCert, tlsKey: *f.tlsKey, tlsClientCA: *f.tlsClientCA,
			tokens: access.Tokens, flags: f.http, log: log, tel: tel, blobs: svcs.Blobs, dirs: svcs.Directories, refs: tags})
		if err != nil {
			return fmt.Errorf("http: %w", err)
		}
		defer hs.stop(*f.grace)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	log.Info("serving", "listen", l.Addr().String())
	if env.onListen != nil {
		env.onListen(l.Addr())
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// NOT_SERVING first: clients that watch the health service (Dial's,
	// given several frontends) stop sending calls here, and the
	// orchestrator's readiness probe fails; calls still come from the
	// others, and are served, until the drain delay is over.
	hs.Shutdown()
	if *f.drainDelay > 0 {
		log.Info("draining", "drain_delay", f.drainDelay.String())
		time.Sleep(*f.drainDelay)
	}
	log.Info("shutting down", "grace_period", f.grace.String())
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(*f.grace):
		log.Warn("grace period over; cancelling calls still in flight")
		srv.Stop()
		<-stopped
	}
	log.Info("stopped")
	return nil
}

// The defaults of serve's flags for a fleet of frontends: a client's
// connection lives about 5 minutes, so a frontend added by a scale-up
// has calls from every client within that (plus a DNS re-resolution);
// a long call (a tvix client's Put of a large blob) may run on 30
// minutes past that; a frontend told to stop says NOT_SERVING and keeps
// serving for 2 s, time for a client's health watch to hear it.
const (
	DefaultMaxConnectionAge      = 5 * time.Minute
	DefaultMaxConnectionAgeGrace = 30 * time.Minute
	DefaultDrainDelay            = 2 * time.Second
)

// listenOn listens on host:port or unix:/path. A socket file left by a
// dead server is replaced; one a live server answers on is an error.
func listenOn(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, usagef("--listen unix: needs a path, as in unix:/run/castore.sock")
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on %s: another server is answering there", addr)
		} else if _, serr := os.Stat(path); serr == nil {
			os.Remove(path)
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		return l, nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, usagef("--listen %q: want host:port or unix:/path", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return l, nil
}

// awaitBackends reports NOT_SERVING until both services answer a probe (a
// lookup of a digest nobody stores: not found is an answer), then SERVING.
func awaitBackends(ctx context.Context, log *slog.Logger, hs *health.Server, svcs *compose.Services) {
	probe := castore.Sum([]byte("castore readiness probe"))
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, berr := svcs.Blobs.Has(pctx, probe)
		_, derr := svcs.Directories.Get(pctx, probe)
		cancel()
		if errors.Is(derr, castore.ErrNotFound) {
			derr = nil
		}
		if berr == nil && derr == nil {
			hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			log.Info("ready")
			return
		}
		log.Warn("backends not ready", "blobs", errString(berr), "directories", errString(derr))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// isLocalListen reports whether a --listen address is reachable only from
// this machine: a unix socket or a loopback host.
func isLocalListen(addr string) bool {
	if strings.HasPrefix(addr, "unix:") {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newLogger(env *environment, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(env.stderr, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(env.stderr, o)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}
