package castore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/castore-go/castore"
)

// plainBlobs is a blob service with no optional capability.
type plainBlobs struct{ castore.BlobService }

// A refused capability wraps ErrUnsupported and names the operation and
// the service's type, and costs one small allocation: its message is made
// only when read (an import is refused CreateChunked once a file).
func TestUnsupportedRefusal(t *testing.T) {
	ctx := context.Background()
	_, err := castore.CreateChunked(ctx, plainBlobs{})
	if !errors.Is(err, castore.ErrUnsupported) {
		t.Fatalf("CreateChunked of a plain service: %v, want ErrUnsupported", err)
	}
	if got, want := err.Error(), "create a blob cut here: castore_test.plainBlobs cannot: "+castore.ErrUnsupported.Error(); got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { castore.CreateChunked(ctx, plainBlobs{}) }); n > 1 {
		t.Errorf("a refusal allocates %v times, want at most 1", n)
	}
}
