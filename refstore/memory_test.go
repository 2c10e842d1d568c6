package refstore_test

import (
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/refstore"
	"github.com/castore-go/castore/reftest"
)

func TestMemory(t *testing.T) {
	reftest.Run(t, func(t *testing.T) castore.RefService { return refstore.NewMemory() })
}
