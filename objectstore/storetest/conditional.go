package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
)

// testConditional checks the optional compare-and-swap capability
// (objectstore.Conditional): a store without it refuses all three calls
// with errors.ErrUnsupported; one with it keeps every precondition,
// alone and between racing writers. A store that can put but not delete
// conditionally refuses DeleteIfVersion alone.
func testConditional(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	_, _, err := objectstore.GetVersion(ctx, s, "cas/a")
	if errors.Is(err, errors.ErrUnsupported) {
		if _, err := objectstore.PutIfVersion(ctx, s, "cas/a", strings.NewReader("x"), objectstore.NoVersion); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("GetVersion is unsupported, PutIfVersion: %v", err)
		}
		if err := objectstore.DeleteIfVersion(ctx, s, "cas/a", "v"); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("GetVersion is unsupported, DeleteIfVersion: %v", err)
		}
		checkAbsent(t, s, "cas/a")
		return
	}
	checkNotFound(t, "GetVersion", "cas/a", err)

	put := func(key, data string, v objectstore.Version) (objectstore.Version, error) {
		return objectstore.PutIfVersion(ctx, s, key, strings.NewReader(data), v)
	}
	wantPrecondition := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, objectstore.ErrPrecondition) {
			t.Fatalf("%s: %v, want ErrPrecondition", what, err)
		}
	}
	get := func(key string) (string, objectstore.Version) {
		t.Helper()
		r, v, err := objectstore.GetVersion(ctx, s, key)
		if err != nil {
			t.Fatalf("GetVersion %q: %v", key, err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("GetVersion %q: reading: %v", key, err)
		}
		if v == objectstore.NoVersion {
			t.Fatalf("GetVersion %q returned no version", key)
		}
		return string(b), v
	}

	// Create only if absent.
	v1, err := put("cas/a", "one", objectstore.NoVersion)
	if err != nil {
		t.Fatalf("PutIfVersion of an absent key: %v", err)
	}
	_, err = put("cas/a", "two", objectstore.NoVersion)
	wantPrecondition("PutIfVersion expecting absence of a present key", err)
	if data, v := get("cas/a"); data != "one" || v != v1 {
		t.Fatalf("GetVersion = %q, %q; want \"one\", %q", data, v, v1)
	}

	// Replace only the version read.
	_, err = put("cas/a", "two", "not-a-version")
	wantPrecondition("PutIfVersion of another version", err)
	v2, err := put("cas/a", "two", v1)
	if err != nil {
		t.Fatalf("PutIfVersion of the current version: %v", err)
	}
	if v2 == v1 {
		t.Fatalf("new contents kept the version %q", v1)
	}
	_, err = put("cas/a", "three", v1)
	wantPrecondition("PutIfVersion of a replaced version", err)
	_, err = put("cas/missing", "x", v2)
	wantPrecondition("PutIfVersion expecting a version of an absent key", err)
	checkAbsent(t, s, "cas/missing")

	// A plain Put makes a new version.
	mustPut(t, s, "cas/a", []byte("four"))
	_, err = put("cas/a", "five", v2)
	wantPrecondition("PutIfVersion after a plain Put", err)
	data, v4 := get("cas/a")
	if data != "four" {
		t.Fatalf("GetVersion after a plain Put = %q", data)
	}
	CheckObject(t, s, "cas/a", []byte("four"))

	// Delete only the version read.
	err = objectstore.DeleteIfVersion(ctx, s, "cas/a", v2)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Logf("the store cannot delete conditionally: %v", err)
	} else {
		wantPrecondition("DeleteIfVersion of another version", err)
		CheckObject(t, s, "cas/a", []byte("four"))
		if err := objectstore.DeleteIfVersion(ctx, s, "cas/a", v4); err != nil {
			t.Fatalf("DeleteIfVersion of the current version: %v", err)
		}
		checkAbsent(t, s, "cas/a")
		wantPrecondition("DeleteIfVersion of a deleted key", objectstore.DeleteIfVersion(ctx, s, "cas/a", v4))
		wantPrecondition("DeleteIfVersion of no version", objectstore.DeleteIfVersion(ctx, s, "cas/a", objectstore.NoVersion))
		if _, err := put("cas/a", "again", objectstore.NoVersion); err != nil {
			t.Fatalf("PutIfVersion of a deleted key: %v", err)
		}
	}

	// Racing writers: exactly one of those expecting the same version
	// wins, and the object is the winner's.
	const racers = 16
	// Every write's bytes differ: versions may be digests of the bytes.
	round := 0
	race := func(v objectstore.Version) int {
		round++
		var wg sync.WaitGroup
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				_, errs[i] = put("cas/race", fmt.Sprint("round ", round, " racer ", i), v)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("racers %d and %d both won", winner, i)
			case err == nil:
				winner = i
			default:
				wantPrecondition(fmt.Sprint("racer ", i), err)
			}
		}
		if winner < 0 {
			t.Fatalf("no racer won")
		}
		CheckObject(t, s, "cas/race", []byte(fmt.Sprint("round ", round, " racer ", winner)))
		return winner
	}
	race(objectstore.NoVersion)
	_, v := get("cas/race")
	race(v)

	// Keys and contexts are checked as for every call.
	if _, _, err := objectstore.GetVersion(ctx, s, "/bad"); !errors.Is(err, castore.ErrInvalid) {
		t.Fatalf("GetVersion of an invalid key: %v", err)
	}
	if _, err := put("bad//key", "x", objectstore.NoVersion); !errors.Is(err, castore.ErrInvalid) {
		t.Fatalf("PutIfVersion of an invalid key: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := objectstore.PutIfVersion(cctx, s, "cas/cancelled", strings.NewReader("x"), objectstore.NoVersion); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutIfVersion under a cancelled context: %v", err)
	}
	checkAbsent(t, s, "cas/cancelled")
}
