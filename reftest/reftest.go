package reftest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castore-go/castore"
)

// Run runs the suite; newService returns a fresh, empty service.
func Run(t *testing.T, newService func(t *testing.T) castore.RefService) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newService(t)) })
	t.Run("Roots", func(t *testing.T) { testRoots(t, newService(t)) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, newService(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newService(t)) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, newService(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newService(t)) })
	t.Run("ConditionalSet", func(t *testing.T) { testConditionalSet(t, newService(t)) })
	t.Run("ConditionalDelete", func(t *testing.T) { testConditionalDelete(t, newService(t)) })
	t.Run("RacingSetters", func(t *testing.T) { testRacingSetters(t, newService(t)) })
	t.Run("RacingCreators", func(t *testing.T) { testRacingCreators(t, newService(t)) })
	t.Run("RacingDeleters", func(t *testing.T) { testRacingDeleters(t, newService(t)) })
	t.Run("NoLostUpdates", func(t *testing.T) { testNoLostUpdates(t, newService(t)) })
	t.Run("Cancelled", func(t *testing.T) { testCancelled(t, newService(t)) })
}

// Racers is how many callers the race tests run at once.
const Racers = 32

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// Root returns a distinct directory node for each i: the roots the suite
// sets. They name nothing stored; a RefService stores names only.
func Root(i int) castore.Node {
	return castore.DirectoryNode(castore.Sum(fmt.Appendf(nil, "reftest root %d", i)), uint64(i)+1)
}

// MustSet sets t unconditionally, failing the test on an error, and
// returns the tag as stored.
func MustSet(t testing.TB, s castore.RefService, tag castore.Tag) castore.Tag {
	t.Helper()
	got, err := s.Set(context.Background(), tag, castore.ExpectAny)
	if err != nil {
		t.Fatalf("Set %q: %v", tag.Name, err)
	}
	return got
}

// Equal reports whether two tags are the same: name, root, and both times
// (time.Time.Equal, so locations and monotonic readings do not count).
func Equal(a, b castore.Tag) bool {
	return a.Name == b.Name && a.Root.Equal(b.Root) && a.Expires.Equal(b.Expires) && a.Updated.Equal(b.Updated)
}

func wantTag(t *testing.T, s castore.RefService, want castore.Tag) {
	t.Helper()
	got, err := s.Get(ctx(t), want.Name)
	if err != nil {
		t.Fatalf("Get %q: %v", want.Name, err)
	}
	if !Equal(got, want) {
		t.Fatalf("Get %q = %+v, want %+v", want.Name, got, want)
	}
}

func wantMissing(t *testing.T, s castore.RefService, name string) {
	t.Helper()
	if got, err := s.Get(ctx(t), name); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("Get %q = %+v, %v; want ErrNotFound", name, got, err)
	}
}

func wantConflict(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, castore.ErrConflict) {
		t.Fatalf("%s: %v, want ErrConflict", what, err)
	}
}

// stamped checks that the service stamped Updated with its clock, between
// before and after (with a second of slack for a server's clock), and not
// with the caller's value.
func stamped(t *testing.T, got castore.Tag, before, after time.Time) {
	t.Helper()
	if got.Updated.Before(before.Add(-time.Second)) || got.Updated.After(after.Add(time.Second)) {
		t.Fatalf("Set of %q stamped Updated %v, want between %v and %v", got.Name, got.Updated, before, after)
	}
}

func testRoundTrip(t *testing.T, s castore.RefService) {
	caller := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	before := time.Now()
	got, err := s.Set(ctx(t), castore.Tag{Name: "ci/myrepo/main", Root: Root(1), Updated: caller}, castore.ExpectAny)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "ci/myrepo/main" || !got.Root.Equal(Root(1)) || !got.Expires.IsZero() {
		t.Fatalf("Set returned %+v", got)
	}
	stamped(t, got, before, after)
	wantTag(t, s, got)

	// A second Set replaces the root and stamps Updated again.
	time.Sleep(2 * time.Millisecond)
	again, err := s.Set(ctx(t), castore.Tag{Name: "ci/myrepo/main", Root: Root(2)}, castore.ExpectAny)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Root.Equal(Root(2)) || !again.Updated.After(got.Updated) {
		t.Fatalf("second Set returned %+v after %+v", again, got)
	}
	wantTag(t, s, again)

	if err := s.Delete(ctx(t), "ci/myrepo/main", castore.ExpectAny); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, "ci/myrepo/main")

	// The longest name there is, and one of every allowed character.
	for _, name := range []string{strings.Repeat("n", castore.MaxTagNameLength), "A-Z_a.z+0=9@x/..y"} {
		got := MustSet(t, s, castore.Tag{Name: name, Root: Root(3)})
		wantTag(t, s, got)
	}
}

func testRoots(t *testing.T, s castore.RefService) {
	roots := []castore.Node{
		Root(7),
		castore.FileNode(castore.Sum([]byte("file")), 4, false),
		castore.FileNode(castore.Sum([]byte("exec")), 4, true),
		castore.FileNode(castore.EmptyDigest, 0, false),
		castore.SymlinkNode("../some/where"),
		castore.DirectoryNode(castore.Sum([]byte("big")), 1<<62),
	}
	for i, r := range roots {
		got := MustSet(t, s, castore.Tag{Name: fmt.Sprintf("roots/%d", i), Root: r})
		if !got.Root.Equal(r) {
			t.Fatalf("Set of root %+v returned %+v", r, got.Root)
		}
		wantTag(t, s, got)
	}
}

func testExpiry(t *testing.T, s castore.RefService) {
	now := time.Now()
	expiries := []time.Time{
		now.Add(30 * 24 * time.Hour),
		time.Date(2100, 1, 1, 0, 0, 0, 123456789, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Unix(1, 0), // expired long ago: still stored and returned
		now.Add(-time.Minute),
		now.Add(time.Hour).In(time.FixedZone("elsewhere", 5*3600)),
	}
	for i, exp := range expiries {
		got := MustSet(t, s, castore.Tag{Name: fmt.Sprintf("exp/%d", i), Root: Root(i), Expires: exp})
		if !got.Expires.Equal(exp) {
			t.Fatalf("Set with Expires %v returned %v", exp, got.Expires)
		}
		wantTag(t, s, got)
	}
	var listed int
	for tag, err := range s.List(ctx(t), "exp/") {
		if err != nil {
			t.Fatal(err)
		}
		i := listed
		if tag.Name != fmt.Sprintf("exp/%d", i) || !tag.Expires.Equal(expiries[i]) {
			t.Fatalf("List yielded %+v, want exp/%d expiring %v", tag, i, expiries[i])
		}
		listed++
	}
	if listed != len(expiries) {
		t.Fatalf("List yielded %d tags, want %d (expired ones too)", listed, len(expiries))
	}
	// Setting again without an expiry clears it.
	got := MustSet(t, s, castore.Tag{Name: "exp/0", Root: Root(0)})
	if !got.Expires.IsZero() {
		t.Fatalf("Set without Expires returned %v", got.Expires)
	}
	wantTag(t, s, got)
}

func testNotFound(t *testing.T, s castore.RefService) {
	wantMissing(t, s, "nothing")
	if err := s.Delete(ctx(t), "nothing", castore.ExpectAny); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("Delete of a missing tag: %v, want ErrNotFound", err)
	}
	MustSet(t, s, castore.Tag{Name: "a/b", Root: Root(1)})
	// Neither a prefix nor an extension of a stored name is that name.
	for _, name := range []string{"a", "a/b/c", "a/bc", "A/b"} {
		wantMissing(t, s, name)
	}
	for tag, err := range s.List(ctx(t), "b") {
		t.Fatalf("List of an unused prefix yielded %+v, %v", tag, err)
	}
}

func testInvalid(t *testing.T, s castore.RefService) {
	badNames := []string{"", "/a", "a/", "a//b", "..", "a/../b", "a/./b", "a b", "a\x00", "ä", "a:b", "a\\b", strings.Repeat("x", castore.MaxTagNameLength+1)}
	wantInvalid := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, castore.ErrInvalid) {
			t.Fatalf("%s: %v, want ErrInvalid", what, err)
		}
	}
	for _, name := range badNames {
		_, err := s.Get(ctx(t), name)
		wantInvalid(fmt.Sprintf("Get %q", name), err)
		_, err = s.Set(ctx(t), castore.Tag{Name: name, Root: Root(1)}, castore.ExpectAny)
		wantInvalid(fmt.Sprintf("Set %q", name), err)
		_, err = s.Set(ctx(t), castore.Tag{Name: name, Root: Root(1)}, castore.ExpectAbsent())
		wantInvalid(fmt.Sprintf("conditional Set %q", name), err)
		wantInvalid(fmt.Sprintf("Delete %q", name), s.Delete(ctx(t), name, castore.ExpectAny))
		wantInvalid(fmt.Sprintf("conditional Delete %q", name), s.Delete(ctx(t), name, castore.ExpectRoot(Root(1))))
	}
	for _, prefix := range []string{"/", "ci//", "../", "ci/..", "a b", "//"} {
		var errs int
		for _, err := range s.List(ctx(t), prefix) {
			wantInvalid(fmt.Sprintf("List %q", prefix), err)
			errs++
		}
		if errs != 1 {
			t.Fatalf("List %q yielded %d errors, want one", prefix, errs)
		}
	}
	badRoots := []castore.Node{{}, {Type: 9}, castore.SymlinkNode(""), castore.SymlinkNode("a\x00b"), castore.SymlinkNode(strings.Repeat("t", 4096))}
	for _, r := range badRoots {
		_, err := s.Set(ctx(t), castore.Tag{Name: "bad", Root: r}, castore.ExpectAny)
		wantInvalid(fmt.Sprintf("Set of root %+v", r), err)
	}
	for _, exp := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, err := s.Set(ctx(t), castore.Tag{Name: "bad", Root: Root(1), Expires: exp}, castore.ExpectAny)
		wantInvalid(fmt.Sprintf("Set expiring %v", exp), err)
	}
	_, err := s.Set(ctx(t), castore.Tag{Name: "bad", Root: Root(1)}, castore.ExpectRoot(castore.SymlinkNode("")))
	wantInvalid("Set expecting an invalid root", err)
	wantInvalid("Delete expecting an invalid root", s.Delete(ctx(t), "bad", castore.ExpectRoot(castore.Node{})))
	wantMissing(t, s, "bad")
	for tag, err := range s.List(ctx(t), "") {
		t.Fatalf("a refused Set left %+v, %v", tag, err)
	}
}

func testList(t *testing.T, s castore.RefService) {
	// Name order is byte order: '-' < '.' < '/' < '0' < 'A' < '_' < 'a'.
	names := []string{"ci", "ci/a", "ci/b/c", "ci/b/d", "ci-x", "ci.y", "ci0", "cia", "ci_z", "cix/y", "main", "a", "Z", "ci/b"}
	for i, n := range names {
		MustSet(t, s, castore.Tag{Name: n, Root: Root(i)})
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	cases := map[string][]string{
		"":      sorted,
		"ci":    filter(sorted, "ci"),
		"ci/":   {"ci/a", "ci/b", "ci/b/c", "ci/b/d"},
		"ci/b":  {"ci/b", "ci/b/c", "ci/b/d"},
		"ci/b/": {"ci/b/c", "ci/b/d"},
		"cix":   {"cix/y"},
		"cix/":  {"cix/y"},
		"m":     {"main"},
		"main/": nil,
		"zz":    nil,
	}
	for prefix, want := range cases {
		got := list(t, s, prefix)
		if !slices.Equal(got, want) {
			t.Errorf("List %q = %q, want %q", prefix, got, want)
		}
	}
	// Each listed tag is the whole tag, as Get returns it.
	for tag, err := range s.List(ctx(t), "ci/b/") {
		if err != nil {
			t.Fatal(err)
		}
		wantTag(t, s, tag)
	}
	// Stopping early is allowed.
	for range s.List(ctx(t), "") {
		break
	}

	// More tags than one page of a listing (S3 pages 1,000 keys).
	many := newServiceFill(t, s, "many/", 1100)
	if got := list(t, s, "many/"); !slices.Equal(got, many) {
		t.Fatalf("List of %d tags yielded %d, or out of order", len(many), len(got))
	}
}

// newServiceFill sets n tags under prefix, Racers at a time, and returns
// their names in order.
func newServiceFill(t *testing.T, s castore.RefService, prefix string, n int) []string {
	names := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, Racers)
	for i := range n {
		names[i] = fmt.Sprintf("%s%05d", prefix, i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := s.Set(ctx(t), castore.Tag{Name: names[i], Root: Root(i)}, castore.ExpectAbsent()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return names
}

func filter(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

func list(t *testing.T, s castore.RefService, prefix string) []string {
	t.Helper()
	var out []string
	for tag, err := range s.List(ctx(t), prefix) {
		if err != nil {
			t.Fatalf("List %q: %v", prefix, err)
		}
		out = append(out, tag.Name)
	}
	return out
}

func testConditionalSet(t *testing.T, s castore.RefService) {
	tag := func(i int) castore.Tag { return castore.Tag{Name: "cond", Root: Root(i)} }

	// On a missing tag: ExpectRoot fails, ExpectAbsent creates.
	_, err := s.Set(ctx(t), tag(1), castore.ExpectRoot(Root(0)))
	wantConflict(t, "Set expecting a root of a missing tag", err)
	wantMissing(t, s, "cond")
	first, err := s.Set(ctx(t), tag(1), castore.ExpectAbsent())
	if err != nil {
		t.Fatalf("Set expecting absence of a missing tag: %v", err)
	}
	wantTag(t, s, first)

	// On a present tag: ExpectAbsent fails, ExpectRoot of another root
	// fails, ExpectRoot of its root replaces it.
	_, err = s.Set(ctx(t), tag(2), castore.ExpectAbsent())
	wantConflict(t, "Set expecting absence of a present tag", err)
	_, err = s.Set(ctx(t), tag(2), castore.ExpectRoot(Root(3)))
	wantConflict(t, "Set expecting another root", err)
	// A root equal in digest but not in size is another root.
	_, err = s.Set(ctx(t), tag(2), castore.ExpectRoot(castore.DirectoryNode(Root(1).Digest, Root(1).Size+1)))
	wantConflict(t, "Set expecting a root of another size", err)
	wantTag(t, s, first)
	second, err := s.Set(ctx(t), tag(2), castore.ExpectRoot(Root(1)))
	if err != nil {
		t.Fatalf("Set expecting the current root: %v", err)
	}
	if !second.Root.Equal(Root(2)) {
		t.Fatalf("conditional Set returned %+v", second)
	}
	wantTag(t, s, second)
	// Setting the same root again, expecting it, succeeds.
	third, err := s.Set(ctx(t), castore.Tag{Name: "cond", Root: Root(2), Expires: time.Now().Add(time.Hour)}, castore.ExpectRoot(Root(2)))
	if err != nil {
		t.Fatal(err)
	}
	wantTag(t, s, third)

	// An expired tag is still stored: ExpectAbsent fails on it.
	MustSet(t, s, castore.Tag{Name: "cond/expired", Root: Root(5), Expires: time.Unix(1, 0)})
	_, err = s.Set(ctx(t), castore.Tag{Name: "cond/expired", Root: Root(6)}, castore.ExpectAbsent())
	wantConflict(t, "Set expecting absence of an expired tag", err)
	if _, err := s.Set(ctx(t), castore.Tag{Name: "cond/expired", Root: Root(6)}, castore.ExpectRoot(Root(5))); err != nil {
		t.Fatalf("Set expecting the root of an expired tag: %v", err)
	}

	// A deleted tag is absent again.
	if err := s.Delete(ctx(t), "cond", castore.ExpectAny); err != nil {
		t.Fatal(err)
	}
	_, err = s.Set(ctx(t), tag(4), castore.ExpectRoot(Root(2)))
	wantConflict(t, "Set expecting the root of a deleted tag", err)
	if _, err := s.Set(ctx(t), tag(4), castore.ExpectAbsent()); err != nil {
		t.Fatalf("Set expecting absence of a deleted tag: %v", err)
	}
}

func testConditionalDelete(t *testing.T, s castore.RefService) {
	// On a missing tag: ExpectAbsent is met (nothing to do), ExpectRoot is
	// a conflict.
	if err := s.Delete(ctx(t), "del", castore.ExpectAbsent()); err != nil {
		t.Fatalf("Delete expecting absence of a missing tag: %v", err)
	}
	wantConflict(t, "Delete expecting a root of a missing tag", s.Delete(ctx(t), "del", castore.ExpectRoot(Root(1))))

	// On a present tag: ExpectAbsent and another root are conflicts and
	// leave it; its root deletes it.
	set := MustSet(t, s, castore.Tag{Name: "del", Root: Root(1)})
	wantConflict(t, "Delete expecting absence of a present tag", s.Delete(ctx(t), "del", castore.ExpectAbsent()))
	wantConflict(t, "Delete expecting another root", s.Delete(ctx(t), "del", castore.ExpectRoot(Root(2))))
	wantTag(t, s, set)
	if err := s.Delete(ctx(t), "del", castore.ExpectRoot(Root(1))); err != nil {
		t.Fatalf("Delete expecting the current root: %v", err)
	}
	wantMissing(t, s, "del")
	wantConflict(t, "Delete expecting the root of a deleted tag", s.Delete(ctx(t), "del", castore.ExpectRoot(Root(1))))
	if err := s.Delete(ctx(t), "del", castore.ExpectAny); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("Delete of a deleted tag: %v, want ErrNotFound", err)
	}
	// A deleted tag does not list.
	for tag, err := range s.List(ctx(t), "") {
		t.Fatalf("List after Delete yielded %+v, %v", tag, err)
	}
}

// race runs Racers calls of f at once, released together, and returns
// their errors.
func race(f func(i int) error) []error {
	errs := make([]error, Racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range Racers {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one call succeeded and the others
// conflicted, and returns the winner.
func oneWinner(t *testing.T, what string, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: callers %d and %d both succeeded", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, castore.ErrConflict):
			t.Fatalf("%s: caller %d: %v, want success or ErrConflict", what, i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: none of %d callers succeeded", what, Racers)
	}
	return winner
}

func testRacingSetters(t *testing.T, s castore.RefService) {
	MustSet(t, s, castore.Tag{Name: "ci/main", Root: Root(0)})
	stored := make([]castore.Tag, Racers)
	errs := race(func(i int) error {
		var err error
		stored[i], err = s.Set(ctx(t), castore.Tag{Name: "ci/main", Root: Root(100 + i)}, castore.ExpectRoot(Root(0)))
		return err
	})
	w := oneWinner(t, "32 setters expecting the same root", errs)
	wantTag(t, s, stored[w])
}

func testRacingCreators(t *testing.T, s castore.RefService) {
	stored := make([]castore.Tag, Racers)
	errs := race(func(i int) error {
		var err error
		stored[i], err = s.Set(ctx(t), castore.Tag{Name: "ci/new", Root: Root(200 + i)}, castore.ExpectAbsent())
		return err
	})
	w := oneWinner(t, "32 creators expecting absence", errs)
	wantTag(t, s, stored[w])
}

func testRacingDeleters(t *testing.T, s castore.RefService) {
	MustSet(t, s, castore.Tag{Name: "ci/old", Root: Root(0)})
	errs := race(func(i int) error { return s.Delete(ctx(t), "ci/old", castore.ExpectRoot(Root(0))) })
	oneWinner(t, "32 deleters expecting the same root", errs)
	wantMissing(t, s, "ci/old")
}

// testNoLostUpdates has Racers callers each advance a counter kept in a
// tag's root (a symlink target) by compare-and-swap, retrying on
// conflict: with no update lost, the counter ends at the number of
// successful swaps.
func testNoLostUpdates(t *testing.T, s castore.RefService) {
	const each = 3
	counter := func(n int) castore.Node { return castore.SymlinkNode(fmt.Sprint(n)) }
	MustSet(t, s, castore.Tag{Name: "counter", Root: counter(0)})
	errs := race(func(int) error {
		for range each {
			for {
				cur, err := s.Get(ctx(t), "counter")
				if err != nil {
					return err
				}
				var n int
				if _, err := fmt.Sscan(cur.Root.Target, &n); err != nil {
					return err
				}
				_, err = s.Set(ctx(t), castore.Tag{Name: "counter", Root: counter(n + 1)}, castore.ExpectRoot(cur.Root))
				if errors.Is(err, castore.ErrConflict) {
					continue
				}
				if err != nil {
					return err
				}
				break
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(ctx(t), "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := counter(Racers * each); !got.Root.Equal(want) {
		t.Fatalf("after %d swaps the counter is %q: updates were lost", Racers*each, got.Root.Target)
	}
}

func testCancelled(t *testing.T, s castore.RefService) {
	MustSet(t, s, castore.Tag{Name: "kept", Root: Root(1)})
	c, cancel := context.WithCancel(context.Background())
	cancel()
	wantCancelled := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s under a cancelled context: %v, want context.Canceled", what, err)
		}
	}
	_, err := s.Get(c, "kept")
	wantCancelled("Get", err)
	_, err = s.Set(c, castore.Tag{Name: "new", Root: Root(2)}, castore.ExpectAny)
	wantCancelled("Set", err)
	_, err = s.Set(c, castore.Tag{Name: "kept", Root: Root(2)}, castore.ExpectRoot(Root(1)))
	wantCancelled("conditional Set", err)
	wantCancelled("Delete", s.Delete(c, "kept", castore.ExpectAny))
	wantCancelled("conditional Delete", s.Delete(c, "kept", castore.ExpectRoot(Root(1))))
	var errs int
	for _, err := range s.List(c, "") {
		wantCancelled("List", err)
		errs++
	}
	if errs != 1 {
		t.Fatalf("List under a cancelled context yielded %d errors, want one", errs)
	}
	// Nothing changed.
	wantMissing(t, s, "new")
	got, err := s.Get(ctx(t), "kept")
	if err != nil || !got.Root.Equal(Root(1)) {
		t.Fatalf("after cancelled calls Get = %+v, %v", got, err)
	}
}
