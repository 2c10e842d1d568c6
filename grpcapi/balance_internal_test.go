package grpcapi

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/refstore"
)

// recordingConn is the ClientConn a resolver reports to, recording the
// service configs it is asked to parse.
type recordingConn struct {
	resolver.ClientConn
	parsed []string
	states []resolver.State
}

func (c *recordingConn) ParseServiceConfig(js string) *serviceconfig.ParseResult {
	c.parsed = append(c.parsed, js)
	return &serviceconfig.ParseResult{}
}

func (c *recordingConn) UpdateState(st resolver.State) error {
	c.states = append(c.states, st)
	return nil
}

// The DNS resolver's answers get health checking when a name has more
// than one address (a headless Service), and none with one (a ClusterIP
// Service, where there is nothing to move to); round_robin and the retry
// policy either way.
func TestFleetConnHealthByAddresses(t *testing.T) {
	rc := &recordingConn{}
	fc := &fleetConn{ClientConn: rc}
	one := resolver.State{Addresses: []resolver.Address{{Addr: "10.0.0.1:8000"}}}
	three := resolver.State{}
	for _, a := range []string{"10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"} {
		three.Endpoints = append(three.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}})
	}
	for _, tc := range []struct {
		st     resolver.State
		health bool
	}{{one, false}, {three, true}, {one, false}} {
		if err := fc.UpdateState(tc.st); err != nil {
			t.Fatal(err)
		}
		got := rc.states[len(rc.states)-1]
		if got.ServiceConfig == nil {
			t.Fatal("no service config set")
		}
		if got.ServiceConfig != fc.config(tc.health) {
			t.Errorf("%d addresses: the service config with health %v was not the one set", max(len(tc.st.Addresses), len(tc.st.Endpoints)), tc.health)
		}
	}
	if len(rc.parsed) != 2 {
		t.Fatalf("%d service configs parsed, want 2 (each once)", len(rc.parsed))
	}
	for i, js := range rc.parsed {
		if !strings.Contains(js, `"round_robin"`) || !strings.Contains(js, `"retryPolicy"`) {
			t.Errorf("config %d lacks round_robin or the retry policy: %s", i, js)
		}
	}
	if strings.Contains(rc.parsed[0], "healthCheckConfig") || !strings.Contains(rc.parsed[1], "healthCheckConfig") {
		t.Errorf("health checking with one address, or none with three:\n%s\n%s", rc.parsed[0], rc.parsed[1])
	}
}

// Every retried method is one the server serves, and a read: no write is
// retried.
func TestRetriedMethodsAreReads(t *testing.T) {
	s := grpc.NewServer()
	blobs, err := chunkstore.NewChunked(memstore.New(), chunkstore.ChunkedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	Register(s, blobs, dirstore.NewMemory())
	RegisterRefs(s, refstore.NewMemory())
	served := map[string]bool{}
	for svc, info := range s.GetServiceInfo() {
		for _, m := range info.Methods {
			served["/"+svc+"/"+m.Name] = true
		}
	}
	for svc, methods := range retriedMethods {
		for _, m := range methods {
			full := "/" + svc + "/" + m
			if writeMethods[full] {
				t.Errorf("%s is a write and retried", full)
			}
			if !served[full] {
				t.Errorf("retried method %s is not served", full)
			}
		}
	}
}
