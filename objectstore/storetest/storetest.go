package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/objectstore"
)

// Sizes used by the suite.
const (
	// BigSize is large enough to take the multipart path of every backend.
	BigSize = 64 << 20
	// PageKeys is more than one page of a List on S3 (1000) and GCS.
	PageKeys = 1100
)

// Run runs the suite. newStore must return an empty store that no other
// subtest uses (a fresh directory, bucket or prefix); Run closes it when
// the subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) objectstore.Store) {
	open := func(t *testing.T) objectstore.Store {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s objectstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentConcurrent", testPutIfAbsentConcurrent},
		{"PutConcurrent", testPutConcurrent},
		{"List", testList},
		{"ListPaging", testListPaging},
		{"OddKeys", testOddKeys},
		{"InvalidKeys", testInvalidKeys},
		{"FailingReader", testFailingReader},
		{"CancelledContext", testCancelledContext},
		{"ModTime", testModTime},
		{"Touch", testTouch},
		{"Copy", testCopy},
		{"DeleteBatch", testDeleteBatch},
		{"Conditional", testConditional},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testRoundTrip(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		size int64
		// hideSize puts through a reader without Len or Seek, so the
		// backend cannot know the size up front.
		hideSize bool
	}{
		{"empty", 0, false},
		{"empty-unknown-size", 0, true},
		{"small", 5, false},
		{"1MiB", 1 << 20, false},
		{"1MiB-unknown-size", 1 << 20, true},
		{"12MiB", 12 << 20, false}, // multipart from a seekable body
		{"64MiB-unknown-size", BigSize, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "roundtrip/" + tc.name
			var r io.Reader
			if tc.hideSize {
				r = newPattern(uint64(tc.size), tc.size)
			} else {
				r = bytes.NewReader(patternBytes(uint64(tc.size), tc.size))
			}
			if err := s.Put(ctx, key, r); err != nil {
				t.Fatalf("Put: %v", err)
			}
			info, err := s.Head(ctx, key)
			if err != nil {
				t.Fatalf("Head: %v", err)
			}
			if info.Size != tc.size || info.Key != key {
				t.Errorf("Head = %+v, want key %q size %d", info, key, tc.size)
			}
			checkContent(t, s, key, newPattern(uint64(tc.size), tc.size))

			// Closing a reader before its end must not hang or break
			// later reads.
			rc, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if _, err := io.ReadFull(rc, make([]byte, min(tc.size, 1024))); err != nil {
				t.Errorf("reading the head of %q: %v", key, err)
			}
			if err := rc.Close(); err != nil {
				t.Errorf("closing a partly read object: %v", err)
			}
			checkContent(t, s, key, newPattern(uint64(tc.size), tc.size))
		})
	}
}

func testNotFound(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	const key = "missing/key"
	rc, err := s.Get(ctx, key)
	if err == nil {
		rc.Close()
	}
	checkNotFound(t, "Get", key, err)
	_, err = s.Head(ctx, key)
	checkNotFound(t, "Head", key, err)
	checkNotFound(t, "Delete", key, s.Delete(ctx, key))

	// A key that is a prefix of another ("directory") is not an object.
	mustPut(t, s, "dir/child", []byte("x"))
	_, err = s.Head(ctx, "dir")
	checkNotFound(t, "Head of a key's parent", "dir", err)
	rc, err = s.Get(ctx, "dir")
	if err == nil {
		rc.Close()
	}
	checkNotFound(t, "Get of a key's parent", "dir", err)
	checkNotFound(t, "Delete of a key's parent", "dir", s.Delete(ctx, "dir"))
	checkBytes(t, s, "dir/child", []byte("x"))
}

func testOverwrite(t *testing.T, s objectstore.Store) {
	const key = "over/write"
	mustPut(t, s, key, []byte("first version, longer"))
	mustPut(t, s, key, []byte("second"))
	checkBytes(t, s, key, []byte("second"))
	mustPut(t, s, key, nil)
	checkBytes(t, s, key, nil)
	checkList(t, s, "over/", map[string]int64{key: 0})
}

func testDelete(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	mustPut(t, s, "del/a", []byte("a"))
	mustPut(t, s, "del/b", []byte("b"))
	if err := s.Delete(ctx, "del/a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkAbsent(t, s, "del/a")
	checkNotFound(t, "second Delete", "del/a", s.Delete(ctx, "del/a"))
	checkBytes(t, s, "del/b", []byte("b"))
	// A deleted key can be written again.
	mustPut(t, s, "del/a", []byte("again"))
	checkBytes(t, s, "del/a", []byte("again"))
}

func testPutIfAbsent(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	const key = "pia/key"
	created, err := s.PutIfAbsent(ctx, key, strings.NewReader("first"))
	if err != nil || !created {
		t.Fatalf("PutIfAbsent on a new key = %v, %v; want true, nil", created, err)
	}
	created, err = s.PutIfAbsent(ctx, key, strings.NewReader("second"))
	if err != nil || created {
		t.Fatalf("PutIfAbsent on an existing key = %v, %v; want false, nil", created, err)
	}
	checkBytes(t, s, key, []byte("first"))

	// An existing empty object counts as existing.
	mustPut(t, s, "pia/empty", nil)
	created, err = s.PutIfAbsent(ctx, "pia/empty", strings.NewReader("x"))
	if err != nil || created {
		t.Fatalf("PutIfAbsent on an existing empty object = %v, %v; want false, nil", created, err)
	}
	checkBytes(t, s, "pia/empty", nil)

	// After a delete the key is absent again.
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	created, err = s.PutIfAbsent(ctx, key, strings.NewReader("third"))
	if err != nil || !created {
		t.Fatalf("PutIfAbsent after Delete = %v, %v; want true, nil", created, err)
	}
	checkBytes(t, s, key, []byte("third"))

	// A big object of unknown size goes through the same precondition.
	created, err = s.PutIfAbsent(ctx, "pia/big", newPattern(7, 9<<20))
	if err != nil || !created {
		t.Fatalf("PutIfAbsent of 9 MiB = %v, %v; want true, nil", created, err)
	}
	created, err = s.PutIfAbsent(ctx, "pia/big", newPattern(8, 9<<20))
	if err != nil || created {
		t.Fatalf("second PutIfAbsent of 9 MiB = %v, %v; want false, nil", created, err)
	}
	checkContent(t, s, "pia/big", newPattern(7, 9<<20))
}

func testPutIfAbsentConcurrent(t *testing.T, s objectstore.Store) {
	const key, n = "pia/race", 8
	var wg sync.WaitGroup
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			created[i], errs[i] = s.PutIfAbsent(t.Context(), key, newPattern(uint64(i), 100<<10))
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Errorf("PutIfAbsent %d: %v", i, errs[i])
		}
		if created[i] {
			if winner >= 0 {
				t.Errorf("PutIfAbsent %d and %d both created %q", winner, i, key)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no PutIfAbsent of %d created %q", n, key)
	}
	checkContent(t, s, key, newPattern(uint64(winner), 100<<10))
}

func testPutConcurrent(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	const key, n, size = "put/race", 8, 256 << 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Put(ctx, key, bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, size)))
		})
	}
	// Meanwhile a reader sees nothing or one whole version, never a mix.
	stop, done := make(chan struct{}), make(chan struct{})
	var readErr error
	go func() {
		defer close(done)
		readErr = readWhole(ctx, s, key, size, stop)
	}()
	wg.Wait()
	close(stop)
	<-done
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	if readErr != nil {
		t.Errorf("concurrent Get: %v", readErr)
	}
	data := readAll(t, s, key)
	if len(data) != size || data[0] < 'a' || data[0] >= 'a'+n || bytes.Count(data, data[:1]) != size {
		t.Errorf("after concurrent puts %q holds %d bytes starting %q, want one whole version", key, len(data), data[:min(len(data), 8)])
	}
	checkList(t, s, "put/", map[string]int64{key: size})
}

// readWhole reads key until stop is closed and fails if it ever holds
// anything but size copies of one byte.
func readWhole(ctx context.Context, s objectstore.Store, key string, size int, stop <-chan struct{}) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		rc, err := s.Get(ctx, key)
		if errors.Is(err, objectstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if len(data) != size || bytes.Count(data, data[:1]) != size {
			return fmt.Errorf("read a torn object: %d bytes, starting %q", len(data), data[:min(len(data), 8)])
		}
	}
}

func testList(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	keys := map[string]int64{
		"dir/x":         1,
		"dir/y/z":       2,
		"dir/y/zz":      3,
		"dir-sibling/q": 4,
		"dirx":          5,
		"other/1":       0,
	}
	for k, n := range keys {
		mustPut(t, s, k, bytes.Repeat([]byte("k"), int(n)))
	}
	sub := func(prefix string) map[string]int64 {
		m := map[string]int64{}
		for k, n := range keys {
			if strings.HasPrefix(k, prefix) {
				m[k] = n
			}
		}
		return m
	}
	for _, prefix := range []string{"", "d", "dir", "dir/", "dir/y", "dir/y/", "dir/y/z", "dir/y/zz", "dirx", "other/", "nope", "nope/", "dir/nope/"} {
		checkList(t, s, prefix, sub(prefix))
	}

	// Stopping early is allowed and stops the listing.
	n := 0
	for _, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if n != 1 {
		t.Errorf("List yielded %d entries before break, want 1", n)
	}
}

func testListPaging(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	want := map[string]int64{}
	keys := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Go(func() {
			for k := range keys {
				if err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range PageKeys {
		k := fmt.Sprintf("page/%02x/%04d", i%7, i)
		want[k] = int64(len(k))
		keys <- k
	}
	close(keys)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("Put: %v", firstErr)
	}
	mustPut(t, s, "pagf", []byte("outside"))
	checkList(t, s, "page/", want)
	checkList(t, s, "page", want)
	sub := map[string]int64{}
	for k, n := range want {
		if strings.HasPrefix(k, "page/03/") {
			sub[k] = n
		}
	}
	checkList(t, s, "page/03/", sub)
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// OddKeys are legal keys with characters that need escaping in URLs,
// signatures or shells.
var OddKeys = []string{
	"odd/with space",
	"odd/plus+sign",
	"odd/percent%20encoded%2Fslash",
	"odd/question?mark",
	"odd/hash#fragment",
	"odd/amp&eq=semi;colon:comma,",
	"odd/quotes'\"`",
	"odd/brackets()[]{}<>",
	"odd/star*bang!at@dollar$caret^pipe|tilde~",
	"odd/back\\slash",
	"odd/.hidden",
	"odd/...",
	"odd/ünïcödé/日本語/😀",
	"odd/trailing space ",
	"odd/-dash",
	"odd/" + strings.Repeat("n", 200),
}

func testOddKeys(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	want := map[string]int64{}
	for _, k := range OddKeys {
		mustPut(t, s, k, []byte(k))
		want[k] = int64(len(k))
	}
	for _, k := range OddKeys {
		checkBytes(t, s, k, []byte(k))
		info, err := s.Head(ctx, k)
		if err != nil || info.Key != k || info.Size != int64(len(k)) {
			t.Errorf("Head(%q) = %+v, %v", k, info, err)
		}
	}
	checkList(t, s, "odd/", want)
	checkList(t, s, "odd/ü", map[string]int64{OddKeys[12]: int64(len(OddKeys[12]))})
	for _, k := range OddKeys {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q): %v", k, err)
		}
	}
	checkList(t, s, "odd/", nil)
}

// InvalidKeys are refused by every backend with castore.ErrInvalid.
var InvalidKeys = []string{
	"",
	"/abs",
	"trailing/",
	"double//slash",
	".",
	"..",
	"../escape",
	"a/../../escape",
	"a/./b",
	"nul\x00byte",
	"new\nline",
	"carriage\rreturn",
	"del\x7f",
	"bad\xffutf8",
	strings.Repeat("k", objectstore.MaxKeyLen+1),
}

func testInvalidKeys(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	for _, k := range InvalidKeys {
		err := s.Put(ctx, k, strings.NewReader("x"))
		checkInvalid(t, "Put", k, err)
		_, err = s.PutIfAbsent(ctx, k, strings.NewReader("x"))
		checkInvalid(t, "PutIfAbsent", k, err)
		rc, err := s.Get(ctx, k)
		if err == nil {
			rc.Close()
		}
		checkInvalid(t, "Get", k, err)
		_, err = s.Head(ctx, k)
		checkInvalid(t, "Head", k, err)
		checkInvalid(t, "Delete", k, s.Delete(ctx, k))
	}
	for _, prefix := range []string{"/", "a//", "../", "a/../", "x\x00"} {
		var err error
		for _, e := range s.List(ctx, prefix) {
			err = e
		}
		checkInvalid(t, "List", prefix, err)
	}
	checkList(t, s, "", nil)
}

var errBoom = errors.New("reader failed on purpose")

func testFailingReader(t *testing.T, s objectstore.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name      string
		failAfter int64
	}{
		{"at-once", 0},
		{"small", 10 << 10},
		{"after-12MiB", 12 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh, old := "fail/"+tc.name+"/fresh", "fail/"+tc.name+"/old"
			if err := s.Put(ctx, fresh, failing(tc.failAfter)); err == nil {
				t.Errorf("Put with a failing reader succeeded")
			}
			checkAbsent(t, s, fresh)
			created, err := s.PutIfAbsent(ctx, fresh, failing(tc.failAfter))
			if err == nil {
				t.Errorf("PutIfAbsent with a failing reader = %v, nil", created)
			}
			checkAbsent(t, s, fresh)

			// An older object under the key is left as it was.
			mustPut(t, s, old, []byte("old"))
			if err := s.Put(ctx, old, failing(tc.failAfter)); err == nil {
				t.Errorf("Put over an object with a failing reader succeeded")
			}
			checkBytes(t, s, old, []byte("old"))
			checkList(t, s, "fail/"+tc.name+"/", map[string]int64{old: 3})
		})
	}
}

func testCancelledContext(t *testing.T, s objectstore.Store) {
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Put(ctx, "cancel/before", strings.NewReader("x")); err == nil {
			t.Errorf("Put with a cancelled context succeeded")
		}
		if created, err := s.PutIfAbsent(ctx, "cancel/before", strings.NewReader("x")); err == nil {
			t.Errorf("PutIfAbsent with a cancelled context = %v, nil", created)
		}
		checkAbsent(t, s, "cancel/before")

		mustPut(t, s, "cancel/kept", []byte("kept"))
		if rc, err := s.Get(ctx, "cancel/kept"); err == nil {
			// The request may have been answered before ctx was looked
			// at; reading must then fail.
			if _, err := io.ReadAll(rc); err == nil {
				t.Errorf("Get and read with a cancelled context succeeded")
			}
			rc.Close()
		}
		if _, err := s.Head(ctx, "cancel/kept"); err == nil {
			t.Errorf("Head with a cancelled context succeeded")
		}
		if err := s.Delete(ctx, "cancel/kept"); err == nil {
			t.Errorf("Delete with a cancelled context succeeded")
		}
		var listErr error
		for _, err := range s.List(ctx, "cancel/") {
			listErr = cmpOr(listErr, err)
		}
		if listErr == nil {
			t.Errorf("List with a cancelled context did not fail")
		}
		checkBytes(t, s, "cancel/kept", []byte("kept"))
	})
	for _, tc := range []struct {
		name   string
		before int64 // bytes read before the context is cancelled
		size   int64
	}{
		{"midway-small", 10 << 10, 20 << 10},
		{"midway-large", 12 << 20, 20 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh, old := "cancel/"+tc.name+"/fresh", "cancel/"+tc.name+"/old"
			ctx, cancel := context.WithCancel(t.Context())
			if err := s.Put(ctx, fresh, cancelling(tc.before, tc.size, cancel)); err == nil {
				t.Errorf("Put cancelled midway succeeded")
			}
			checkAbsent(t, s, fresh)

			ctx, cancel = context.WithCancel(t.Context())
			if created, err := s.PutIfAbsent(ctx, fresh, cancelling(tc.before, tc.size, cancel)); err == nil {
				t.Errorf("PutIfAbsent cancelled midway = %v, nil", created)
			}
			checkAbsent(t, s, fresh)

			mustPut(t, s, old, []byte("old"))
			ctx, cancel = context.WithCancel(t.Context())
			if err := s.Put(ctx, old, cancelling(tc.before, tc.size, cancel)); err == nil {
				t.Errorf("Put over an object cancelled midway succeeded")
			}
			checkBytes(t, s, old, []byte("old"))
			checkList(t, s, "cancel/"+tc.name+"/", map[string]int64{old: 3})
		})
	}
}

// Helpers.

func mustPut(t *testing.T, s objectstore.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func readAll(t *testing.T, s objectstore.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return data
}

// CheckObject fails t unless the object under key holds exactly want.
func CheckObject(t testing.TB, s objectstore.Store, key string, want []byte) {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Errorf("Get(%q): %v", key, err)
		return
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Errorf("reading %q: %v", key, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%q is torn: %d bytes, want %d", key, len(got), len(want))
	}
}

func checkBytes(t *testing.T, s objectstore.Store, key string, want []byte) {
	t.Helper()
	if got := readAll(t, s, key); !bytes.Equal(got, want) {
		t.Errorf("%q holds %d bytes %.32q, want %d bytes %.32q", key, len(got), got, len(want), want)
	}
}

// checkContent compares the object with want by length and SHA-256, so
// big objects are never held in memory twice.
func checkContent(t *testing.T, s objectstore.Store, key string, want io.Reader) {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	gotSum, gotN, err := sum(rc)
	if err != nil {
		t.Fatalf("reading %q after %d bytes: %v", key, gotN, err)
	}
	wantSum, wantN, _ := sum(want)
	if gotN != wantN || gotSum != wantSum {
		t.Errorf("%q holds %d bytes (sha256 %x), want %d bytes (sha256 %x)", key, gotN, gotSum[:8], wantN, wantSum[:8])
	}
}

func sum(r io.Reader) ([sha256.Size]byte, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return [sha256.Size]byte(h.Sum(nil)), n, err
}

func checkNotFound(t *testing.T, op, key string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s(%q) succeeded, want not found", op, key)
	case !errors.Is(err, objectstore.ErrNotFound) || !errors.Is(err, castore.ErrNotFound):
		t.Errorf("%s(%q) = %v, want an error matching ErrNotFound", op, key, err)
	case !strings.Contains(err.Error(), fmt.Sprintf("%q", key)):
		t.Errorf("%s(%q) = %v, want the quoted key in the message", op, key, err)
	}
}

func checkInvalid(t *testing.T, op, key string, err error) {
	t.Helper()
	if !errors.Is(err, castore.ErrInvalid) {
		t.Errorf("%s(%.40q) = %v, want an error matching castore.ErrInvalid", op, key, err)
	}
}

// checkAbsent checks that key is not readable, not headable and not
// listed.
func checkAbsent(t *testing.T, s objectstore.Store, key string) {
	t.Helper()
	_, err := s.Head(t.Context(), key)
	checkNotFound(t, "Head", key, err)
	rc, err := s.Get(t.Context(), key)
	if err == nil {
		rc.Close()
	}
	checkNotFound(t, "Get", key, err)
	for info, err := range s.List(t.Context(), key) {
		if err != nil {
			t.Fatalf("List(%q): %v", key, err)
		}
		if info.Key == key {
			t.Errorf("List(%q) yields %+v, want it absent", key, info)
		}
	}
}

// checkList checks that List(prefix) yields exactly want (key -> size), in
// key order.
func checkList(t *testing.T, s objectstore.Store, prefix string, want map[string]int64) {
	t.Helper()
	var got []objectstore.ObjectInfo
	for info, err := range s.List(t.Context(), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		got = append(got, info)
	}
	keys := make([]string, 0, len(got))
	for _, info := range got {
		keys = append(keys, info.Key)
	}
	if !slices.IsSorted(keys) {
		t.Errorf("List(%q) is not in key order: %q", prefix, keys)
	}
	wantKeys := make([]string, 0, len(want))
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	slices.Sort(wantKeys)
	slices.Sort(keys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("List(%q) = %d keys %.10q..., want %d keys %.10q...", prefix, len(keys), keys, len(wantKeys), wantKeys)
		return
	}
	for _, info := range got {
		if info.Size != want[info.Key] {
			t.Errorf("List(%q): %q has size %d, want %d", prefix, info.Key, info.Size, want[info.Key])
		}
	}
}

// pattern is a deterministic pseudo-random stream of n bytes. It has no Len
// or Seek, so a backend cannot learn its size before reading it.
type pattern struct {
	rng *rand.ChaCha8
	n   int64
}

func newPattern(seed uint64, n int64) io.Reader {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return &pattern{rng: rand.NewChaCha8(s), n: n}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n)]
	n, _ := p.rng.Read(b)
	p.n -= int64(n)
	return n, nil
}

func patternBytes(seed uint64, n int64) []byte {
	b, _ := io.ReadAll(newPattern(seed, n))
	return b
}

// failing yields n bytes and then errBoom.
func failing(n int64) io.Reader {
	return io.MultiReader(newPattern(99, n), errReader{})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBoom }

// cancelling yields size bytes and calls cancel once it has yielded
// before of them: the reader itself never fails.
func cancelling(before, size int64, cancel context.CancelFunc) io.Reader {
	return io.MultiReader(newPattern(98, before), funcReader(func() { cancel() }), newPattern(97, size-before))
}

// funcReader calls f and then reports io.EOF.
type funcReader func()

func (f funcReader) Read([]byte) (int, error) { f(); return 0, io.EOF }
