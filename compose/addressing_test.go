package compose_test

import (
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
)

// Which directories Get finds comes through compose as each service
// declares it: no wrapper compose puts around a service hides it.
func TestDirectoryAddressing(t *testing.T) {
	c := compose.New(compose.DefaultRegistry())
	t.Cleanup(func() { c.Close() })
	if err := c.Load([]byte(`
directoryservices:
  mem: {type: memory}
  mem2: {type: memory}
  bundles: {type: objectstore, url: "memory:///"}
  bundles2: {type: objectstore, url: "memory:///"}
  remote: {type: grpc, url: "grpc+http://127.0.0.1:1"}
  cached: {type: cache, near: mem, far: mem2}
  cachedBundles: {type: cache, near: mem, far: bundles}
  bundlesOnBundles: {type: cache, near: bundles2, far: bundles}
  cachedRemote: {type: cache, near: mem, far: remote}
`)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]castore.Addressing{
		"mem":              castore.AddressesAll,
		"bundles":          castore.AddressesRoots,
		"remote":           castore.AddressesSome,
		"cached":           castore.AddressesAll,
		"cachedBundles":    castore.AddressesSome,
		"bundlesOnBundles": castore.AddressesRoots,
		"cachedRemote":     castore.AddressesSome,
	} {
		s, err := c.DirectoryService(t.Context(), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := s.Addressing(); got != want {
			t.Errorf("%s: Addressing = %v, want %v", name, got, want)
		}
	}
}
