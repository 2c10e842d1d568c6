package memstore_test

import (
	"testing"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objectstore.Store { return memstore.New() })
}
