package grpcapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	// Registers gRPC's client side of the health protocol, which the
	// healthCheckConfig of a fleet's service config turns on.
	_ "google.golang.org/grpc/health"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
)

// How a client spreads its calls over a fleet of frontends.
//
// Dial resolves a grpc+http(s) address through fleetResolver (the scheme
// fleetScheme, registered on each connection only, not globally): a list
// of frontends is used as it is, one host:port is resolved through gRPC's
// DNS resolver. Either way the connection balances round_robin over every
// address, and when there is more than one it watches each frontend's
// health service (grpc.health.v1, service ""), so a frontend that says
// NOT_SERVING (starting, or draining before it stops) gets no new calls,
// and one that is unreachable none either. With one address there is
// nothing to move to, and a health check would only turn a draining
// frontend's last second into failed calls.
//
// The calls that only read are retried on UNAVAILABLE (retryPolicy):
// gRPC retries a call until its first response arrives; a read whose
// stream breaks after that is restarted by the client (retry.go). Puts
// are never retried here: a Put that fails mid-stream is reported.

// fleetScheme is the resolver scheme of Dial's grpc+http(s) targets.
const fleetScheme = "castore-fleet"

// retriedMethods are the calls that only read, with the services they
// are under: retried on UNAVAILABLE.
var retriedMethods = map[string][]string{
	"tvix.castore.v1.BlobService":      {"Stat", "Read"},
	"tvix.castore.v1.DirectoryService": {"Get"},
	"snix.castore.v1.BlobService":      {"Stat", "Read"},
	"snix.castore.v1.DirectoryService": {"Get"},
	"castore.v1.ChunkService":          {"ReadCompressed", "ReadCompressedBatch", "Missing"},
	"castore.v1.RefService":            {"Get", "List"},
}

// The retry policy of retriedMethods: 5 attempts (gRPC's most), waiting
// 0.1, 0.2, 0.4 and 0.8 s (each ±20%) between them: 1.5 s in all, about
// what a client needs to notice a dead frontend and move to another.
const (
	retryAttempts       = 5
	retryInitialBackoff = "0.1s"
	retryMaxBackoff     = "2s"
)

// serviceConfig is the service config of a connection: round_robin, the
// retry policy, and health checking if health.
func serviceConfig(health bool) string {
	type name struct {
		Service string `json:"service"`
		Method  string `json:"method"`
	}
	var names []name
	for svc, methods := range retriedMethods {
		for _, m := range methods {
			names = append(names, name{svc, m})
		}
	}
	cfg := map[string]any{
		"loadBalancingConfig": []any{map[string]any{"round_robin": map[string]any{}}},
		"methodConfig": []any{map[string]any{
			"name": names,
			"retryPolicy": map[string]any{
				"maxAttempts":          retryAttempts,
				"initialBackoff":       retryInitialBackoff,
				"maxBackoff":           retryMaxBackoff,
				"backoffMultiplier":    2,
				"retryableStatusCodes": []string{"UNAVAILABLE"},
			},
		}},
	}
	if health {
		cfg["healthCheckConfig"] = map[string]any{"serviceName": ""}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // a literal
	}
	return string(b)
}

// fleetResolver resolves the endpoint of a fleetScheme target:
// "host:port,host:port,..." (more than one: those addresses, as given) or
// "host:port" (through gRPC's DNS resolver: every address the name has).
type fleetResolver struct{}

func (fleetResolver) Scheme() string { return fleetScheme }

func (fleetResolver) Build(target resolver.Target, cc resolver.ClientConn, opts resolver.BuildOptions) (resolver.Resolver, error) {
	hosts := strings.Split(target.Endpoint(), ",")
	if len(hosts) == 1 {
		dns := resolver.Get("dns")
		if dns == nil {
			return nil, fmt.Errorf("gRPC's dns resolver is not registered")
		}
		t := target
		t.URL.Scheme = "dns"
		return dns.Build(t, &fleetConn{ClientConn: cc}, opts)
	}
	st := resolver.State{}
	for _, h := range hosts {
		// ServerName: TLS checks each frontend's certificate against
		// its own host, and calls carry it as their authority.
		a := resolver.Address{Addr: h, ServerName: h}
		st.Addresses = append(st.Addresses, a)
		st.Endpoints = append(st.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{a}})
	}
	st.ServiceConfig = cc.ParseServiceConfig(serviceConfig(true))
	if err := cc.UpdateState(st); err != nil {
		return nil, err
	}
	return nopResolver{}, nil
}

type nopResolver struct{}

func (nopResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (nopResolver) Close()                                {}

// fleetConn is the ClientConn gRPC's DNS resolver reports to: it sets the
// service config by how many addresses the name has, health checking
// with more than one.
type fleetConn struct {
	resolver.ClientConn
	mu      sync.Mutex
	configs [2]*serviceconfig.ParseResult
}

func (c *fleetConn) UpdateState(st resolver.State) error {
	n := max(len(st.Endpoints), len(st.Addresses))
	st.ServiceConfig = c.config(n > 1)
	return c.ClientConn.UpdateState(st)
}

func (c *fleetConn) config(health bool) *serviceconfig.ParseResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	if health {
		i = 1
	}
	if c.configs[i] == nil {
		c.configs[i] = c.ClientConn.ParseServiceConfig(serviceConfig(health))
	}
	return c.configs[i]
}
