package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/httpfront"
)

// indexNames collects --index-names, repeatable or comma-separated.
type indexNames []string

func (n *indexNames) String() string { return strings.Join(*n, ",") }
func (n *indexNames) Set(v string) error {
	for name := range strings.SplitSeq(v, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if err := castore.ValidateName([]byte(name)); err != nil {
			return fmt.Errorf("index name %q: %w", name, err)
		}
		*n = append(*n, name)
	}
	return nil
}

// httpFlags are the flags of the HTTP gateway, in castore serve and
// castore http alike.
type httpFlags struct {
	indexNames   indexNames
	autoIndex    bool
	shareKeyFile string
}

func (h *httpFlags) register(fs *flag.FlagSet) {
	fs.Var(&h.indexNames, "index-names", "HTTP: the file a directory request is answered with instead of a listing, if it has one (repeatable, or comma-separated: index.html,index.htm)")
	fs.BoolVar(&h.autoIndex, "auto-index", true, "HTTP: list directories that have no index file (--auto-index=false: 403, as snix's castore-http without --auto-index)")
	fs.StringVar(&h.shareKeyFile, "share-key-file", "", "HTTP: file of the key (at least 32 bytes) that links printed by `castore share --key-file` are signed with: with --auth-tokens, such a link reads what it names without a token until it expires")
}

// checkListen applies serve's rule to an address: not loopback needs
// TLS, or --insecure-listen. Tokens do not make up for it: without TLS
// they cross the network in clear text, for anyone on the path to take.
func checkListen(flagName, addr string, tls, tokens, insecure bool) error {
	switch {
	case isLocalListen(addr) || tls || insecure:
		return nil
	case tokens:
		return usagef("refusing to listen on %s (%s), which is not loopback, with --auth-tokens but without --tls-cert: the tokens would cross the network in clear text (say --insecure-listen if you mean it)", addr, flagName)
	}
	return usagef("refusing to listen on %s (%s), which is not loopback, without --tls-cert (say --insecure-listen if you mean it)", addr, flagName)
}

// httpServer is the HTTP gateway as serve and http run it.
type httpServer struct {
	srv  *http.Server
	l    net.Listener
	done chan error
}

// httpConfig is what an HTTP gateway is started with.
type httpConfig struct {
	listen                       string
	tlsCert, tlsKey, tlsClientCA string
	tokens                       *grpcapi.Tokens
	flags                        httpFlags
	log                          *slog.Logger
	tel                          *telemetry
	blobs                        castore.BlobService
	dirs                         castore.DirectoryService
	refs                         castore.RefService // nil: no /tags/
}

// startHTTP listens on c.listen and serves the gateway there until stop.
func startHTTP(c httpConfig) (*httpServer, error) {
	o := httpfront.Options{IndexNames: c.flags.indexNames, AutoIndex: c.flags.autoIndex, Logger: c.log, Refs: c.refs}
	if c.tel != nil {
		o.MeterProvider, o.TracerProvider = c.tel.mp, c.tel.tp
	}
	if c.tokens != nil {
		tokens := c.tokens
		o.ReadAllowed = func(tok string) bool { return tokens.Role(tok) >= grpcapi.RoleRead }
	}
	if f := c.flags.shareKeyFile; f != "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--share-key-file: %w", err)
		}
		if o.ShareKey, err = httpfront.NewShareKey(raw); err != nil {
			return nil, fmt.Errorf("--share-key-file %s: %w", f, err)
		}
		if c.tokens == nil {
			c.log.Warn("--share-key-file without --auth-tokens: every request may read anyway, share links add nothing")
		}
	}
	srv := &http.Server{
		Handler:           httpfront.New(c.blobs, c.dirs, o),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
	}
	if c.tlsCert != "" {
		cfg, err := grpcapi.ServerTLS(c.tlsCert, c.tlsKey, c.tlsClientCA)
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = cfg
	}
	l, err := listenOn(c.listen)
	if err != nil {
		return nil, err
	}
	s := &httpServer{srv: srv, l: l, done: make(chan error, 1)}
	scheme := "http"
	if srv.TLSConfig != nil {
		scheme = "https"
	}
	go func() {
		if scheme == "https" {
			s.done <- srv.ServeTLS(l, "", "")
		} else {
			s.done <- srv.Serve(l)
		}
	}()
	c.log.Info("serving HTTP", "listen", l.Addr().String(), "url", scheme+"://"+l.Addr().String()+"/", "index_names", c.flags.indexNames.String(), "auto_index", c.flags.autoIndex)
	return s, nil
}

// stop lets requests in flight finish for grace, then cuts them off.
func (s *httpServer) stop(grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
}

func runHTTP(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "http", "",
		"Serve the trees of any store to web browsers and HTTP clients: /b3/DIGEST/path\n"+
			"(a listing, a file with Range and caching headers, ?format=tar of a\n"+
			"directory) and /blobs/DIGEST, until SIGINT or SIGTERM. `castore serve\n"+
			"--http-listen` does the same beside the gRPC API, over the stores it serves.")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on: host:port, or unix:/path/to.sock")
	var hf httpFlags
	hf.register(fs)
	tlsCert := fs.String("tls-cert", "", "PEM certificate to serve HTTPS with (reloaded when it changes)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	tlsClientCA := fs.String("tls-client-ca", "", "PEM CA that client certificates must be signed by (mutual TLS)")
	authTokens := fs.String("auth-tokens", "", "file of bearer tokens: one 'SHA256-HEX read|write' per line; every request then needs one with the read role (Authorization: Bearer, or as the password of Basic authentication)")
	insecure := fs.Bool("insecure-listen", false, "allow listening on a non-loopback address without TLS (plaintext: anyone on the path reads the data, and any tokens)")
	metricsListen := fs.String("metrics-listen", "", "serve Prometheus metrics on this address (host:port) at /metrics")
	grace := fs.Duration("grace-period", 10*time.Second, "on SIGINT/SIGTERM, how long requests in flight may finish")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if *tlsClientCA != "" && *tlsCert == "" {
		return usagef("--tls-client-ca needs --tls-cert and --tls-key")
	}
	if err := checkListen("--listen", *listen, *tlsCert != "", *authTokens != "", *insecure); err != nil {
		return err
	}
	log, err := newLogger(env, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	var tokens *grpcapi.Tokens
	if *authTokens != "" {
		if tokens, err = grpcapi.LoadTokens(*authTokens); err != nil {
			return err
		}
	}
	tel, err := setupTelemetry(ctx, env)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer tel.close()
	svcs, err := openStoresToRead(ctx, sf)
	if err != nil {
		return err
	}
	defer svcs.Close()
	if *metricsListen != "" {
		stopMetrics, err := tel.serveMetrics(ctx, *metricsListen)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		defer stopMetrics()
	}
	refs, err := svcs.Refs(ctx)
	if errors.Is(err, castore.ErrUnsupported) {
		log.Info("no tag service: /tags/ is not served", "reason", err)
		refs = nil
	} else if err != nil {
		return fmt.Errorf("tag service: %w", err)
	}
	s, err := startHTTP(httpConfig{listen: *listen, tlsCert: *tlsCert, tlsKey: *tlsKey, tlsClientCA: *tlsClientCA, tokens: tokens,
		flags: hf, log: log, tel: tel, blobs: svcs.Blobs, dirs: svcs.Directories, refs: refs})
	if err != nil {
		return err
	}
	if env.onListen != nil {
		env.onListen(s.l.Addr())
	}
	select {
	case err := <-s.done:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace_period", grace.String())
	s.stop(*grace)
	log.Info("stopped")
	return nil
}
