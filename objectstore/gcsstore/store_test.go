package gcsstore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/gcsstore"
	"github.com/castore-go/castore/objectstore/storetest"
)

// TestGCS runs the conformance suite against fake-gcs-server, through
// Open and STORAGE_EMULATOR_HOST, each subtest under its own prefix.
func TestGCS(t *testing.T) {
	g := testenv.FakeGCS(t, testenv.GCSFilesystem)
	g.SetEnv(t)
	n := 0
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		n++
		s, err := gcsstore.Open(t.Context(), g.URL(fmt.Sprintf("conformance/%d", n)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestGCSMissingBucket(t *testing.T) {
	g := testenv.FakeGCS(t, testenv.GCSMemory)
	g.SetEnv(t)
	s, err := gcsstore.Open(t.Context(), "gs://no-such-bucket-here/p")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Put(t.Context(), "k", strings.NewReader("x"))
	if err == nil || errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Put into a missing bucket = %v, want an error that is not ErrNotFound", err)
	}
}
