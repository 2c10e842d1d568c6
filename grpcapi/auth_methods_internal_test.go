package grpcapi

import (
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/refstore"
)

// Every method Register and RegisterRefs serve that stores data (its name
// starts with Put, or it sets or deletes a tag) needs the write role, and
// every write method listed is served: a new service's writes cannot slip
// past the token check.
func TestWriteMethodsListed(t *testing.T) {
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
			name := "/" + svc + "/" + m.Name
			served[name] = true
			write := strings.HasPrefix(m.Name, "Put") || svc == "castore.v1.RefService" && (m.Name == "Set" || m.Name == "Delete")
			if write != writeMethods[name] {
				t.Errorf("%s: write method listed = %v", name, writeMethods[name])
			}
		}
	}
	for name := range writeMethods {
		if !served[name] {
			t.Errorf("write method %s is not served", name)
		}
	}
}
