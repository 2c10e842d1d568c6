package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
)

// granularity is the coarsest modification time a backend keeps (S3's
// Last-Modified is whole seconds).
const granularity = time.Second

// testModTime: Head and List give every object a modification time no
// earlier than the second before its put began and no later than now,
// and a put over an object moves it.
func testModTime(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	before := time.Now().Add(-granularity)
	mustPut(t, s, "times/a", []byte("a"))
	mustPut(t, s, "times/b", []byte("bb"))
	after := time.Now().Add(granularity)
	inRange := func(what string, mt time.Time) {
		t.Helper()
		if mt.Before(before) || mt.After(after) {
			t.Errorf("%s: ModTime %v, want within [%v, %v]", what, mt, before, after)
		}
	}
	for _, key := range []string{"times/a", "times/b"} {
		oi, err := s.Head(ctx, key)
		if err != nil {
			t.Fatalf("Head %q: %v", key, err)
		}
		inRange("Head "+key, oi.ModTime)
	}
	n := 0
	for oi, err := range s.List(ctx, "times/") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		n++
		inRange("List "+oi.Key, oi.ModTime)
	}
	if n != 2 {
		t.Errorf("List yielded %d objects, want 2", n)
	}
}

// testTouch: a Touch moves an object's modification time to now and
// leaves its bytes; a Touch of a missing key is ErrNotFound. A store
// that cannot touch must say so with ErrUnsupported (every backend here
// can).
func testTouch(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	mustPut(t, s, "touch/a", []byte("content"))
	mustPut(t, s, "touch/b", []byte("other"))
	first, err := s.Head(ctx, "touch/a")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(granularity + 100*time.Millisecond)
	before := time.Now().Add(-granularity)
	if err := objectstore.Touch(ctx, s, "touch/a"); err != nil {
		if errors.Is(err, castore.ErrUnsupported) {
			t.Fatalf("Touch: %v: every backend must support it (garbage collection relies on it)", err)
		}
		t.Fatalf("Touch: %v", err)
	}
	oi, err := s.Head(ctx, "touch/a")
	if err != nil {
		t.Fatal(err)
	}
	if !oi.ModTime.After(first.ModTime) || oi.ModTime.Before(before) {
		t.Errorf("ModTime after Touch %v, was %v: want after it and not before %v", oi.ModTime, first.ModTime, before)
	}
	if oi.Size != int64(len("content")) {
		t.Errorf("Size after Touch %d, want %d", oi.Size, len("content"))
	}
	checkBytes(t, s, "touch/a", []byte("content"))
	checkBytes(t, s, "touch/b", []byte("other"))
	for oi, err := range s.List(ctx, "touch/a") {
		if err != nil {
			t.Fatal(err)
		}
		if oi.ModTime.Before(before) {
			t.Errorf("List after Touch: ModTime %v, want not before %v", oi.ModTime, before)
		}
	}
	checkNotFound(t, "Touch", "touch/missing", objectstore.Touch(ctx, s, "touch/missing"))
	if err := s.Delete(ctx, "touch/a"); err != nil {
		t.Fatal(err)
	}
	checkNotFound(t, "Touch of a deleted key", "touch/a", objectstore.Touch(ctx, s, "touch/a"))
	_, err = s.Head(ctx, "touch/a")
	checkNotFound(t, "Head after Touch of a deleted key", "touch/a", err)
}

// testCopy: Copy makes a new object with src's bytes and a modification
// time of its own; src stays; a missing src is ErrNotFound.
func testCopy(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	mustPut(t, s, "copy/src", []byte("to copy"))
	mustPut(t, s, "copy/dst", []byte("replaced"))
	before := time.Now().Add(-granularity)
	if err := objectstore.Copy(ctx, s, "copy/src", "copy/dst"); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	checkBytes(t, s, "copy/dst", []byte("to copy"))
	checkBytes(t, s, "copy/src", []byte("to copy"))
	if err := objectstore.Copy(ctx, s, "copy/src", "copy/new/key"); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	checkBytes(t, s, "copy/new/key", []byte("to copy"))
	oi, err := s.Head(ctx, "copy/new/key")
	if err != nil {
		t.Fatal(err)
	}
	if oi.ModTime.Before(before) {
		t.Errorf("copy's ModTime %v, want not before %v", oi.ModTime, before)
	}
	checkNotFound(t, "Copy of a missing key", "copy/missing", objectstore.Copy(ctx, s, "copy/missing", "copy/x"))
}

// testDeleteBatch: DeleteBatch deletes every key it is given, more than
// one S3 request's worth, a missing one without error, and nothing else.
func testDeleteBatch(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	var keys []string
	for i := range PageKeys {
		k := fmt.Sprintf("batch/%04d", i)
		keys = append(keys, k)
	}
	var g sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, k := range keys {
		g.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := s.Put(ctx, k, bytes.NewReader([]byte(k))); err != nil {
				t.Error(err)
			}
		})
	}
	g.Wait()
	mustPut(t, s, "batch-keep", []byte("kept"))
	if err := objectstore.DeleteBatch(ctx, s, append(keys, "batch/missing")); err != nil {
		t.Fatalf("DeleteBatch: %v", err)
	}
	for oi, err := range s.List(ctx, "batch/") {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("%s is still there", oi.Key)
		break
	}
	checkBytes(t, s, "batch-keep", []byte("kept"))
	if err := objectstore.DeleteBatch(ctx, s, nil); err != nil {
		t.Errorf("DeleteBatch of nothing: %v", err)
	}
}
