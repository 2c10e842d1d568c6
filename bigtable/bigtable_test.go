package bigtable_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gbt "cloud.google.com/go/bigtable"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/bigtable"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/dirstore/dirtest"
)

// TestConformance runs the dirtest suite on the emulator, a new table per
// service.
func TestConformance(t *testing.T) {
	f := newFixture(t)
	dirtest.Run(t, func(t *testing.T) castore.DirectoryService {
		return f.open(t, f.params(t), nil)
	}, dirtest.Options{})
}

// TestRequestCounts: a putter writes 10,000 directories in a handful of
// requests, and GetRecursive reads a closure with one request per level.
func TestRequestCounts(t *testing.T) {
	f := newFixture(t)
	c := newCounter()
	s := f.open(t, f.params(t), c)
	ctx := t.Context()

	tree := wideTree(t, 99, 100) // 10,000 directories, depth 3
	if len(tree) != 10000 {
		t.Fatalf("tree has %d directories", len(tree))
	}
	root, err := dirtest.Put(ctx, s, tree...)
	if err != nil {
		t.Fatal(err)
	}
	// 9,999 non-root directories in batches of 1,000 (one MutateRows and
	// one existence ReadRows each), then one CheckAndMutateRow for the root.
	if w := c.writes(); w > 11 {
		t.Errorf("putting 10,000 directories took %d write requests (%s), want at most 11", w, c)
	}
	if r := c.get("ReadRows"); r > 10 {
		t.Errorf("putting 10,000 directories took %d read requests (%s), want at most 10", r, c)
	}
	t.Logf("put of 10,000 directories: %s", c)

	c.reset()
	got, err := collect(ctx, s, root)
	if err != nil || len(got) != 10000 {
		t.Fatalf("GetRecursive: %d directories, %v", len(got), err)
	}
	if r := c.get("ReadRows"); r > 3 {
		t.Errorf("GetRecursive of a closure of depth 3 took %d read requests (%s), want at most 3", r, c)
	}

	// The same closure again: every row exists, nothing but the root's
	// conditional write is sent.
	c.reset()
	if _, err := dirtest.Put(ctx, s, tree...); err != nil {
		t.Fatal(err)
	}
	if m, cm := c.get("MutateRows")+c.get("MutateRow"), c.get("CheckAndMutateRow"); m != 0 || cm != 1 {
		t.Errorf("putting a stored closure again: %s, want no MutateRows and one CheckAndMutateRow", c)
	}

	// A deep chain: one read per level.
	deep := chain(t, 40)
	root, err = dirtest.Put(ctx, s, deep...)
	if err != nil {
		t.Fatal(err)
	}
	c.reset()
	got, err = collect(ctx, s, root)
	if err != nil || len(got) != 40 {
		t.Fatalf("GetRecursive of a chain: %d directories, %v", len(got), err)
	}
	if r := c.get("ReadRows"); r > 40 {
		t.Errorf("GetRecursive of a closure of depth 40 took %d read requests, want at most 40", r)
	}
	// And Get is one request.
	c.reset()
	if _, err := s.Get(ctx, root); err != nil {
		t.Fatal(err)
	}
	if r := c.get("ReadRows"); r != 1 {
		t.Errorf("Get took %d read requests", r)
	}
}

// TestStoppedEmulator: with the server gone, every call fails after the
// configured timeout instead of hanging.
func TestStoppedEmulator(t *testing.T) {
	f := newFixture(t)
	p := f.params(t)
	p.Timeout = time.Second
	s := f.open(t, p, nil)
	ctx := t.Context()
	tree := chain(t, 3)
	root, err := dirtest.Put(ctx, s, tree...)
	if err != nil {
		t.Fatal(err)
	}
	f.emu.Stop()

	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Get", func(ctx context.Context) error { _, err := s.Get(ctx, root); return err }},
		{"GetRecursive", func(ctx context.Context) error { _, err := collect(ctx, s, root); return err }},
		{"Put", func(ctx context.Context) error { _, err := s.Put(ctx, dirtest.MustDir(t, file("new", 1))); return err }},
		{"Putter", func(ctx context.Context) error { _, err := dirtest.Put(ctx, s, chain(t, 4)...); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The watchdog is far above the 1s timeout: it tells a hang
			// from an error, it does not time the error.
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tc.call(ctx) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("succeeded with the emulator stopped")
				}
				if ctx.Err() != nil {
					t.Fatalf("failed only when the test's own deadline passed: %v", err)
				}
				// Reads are retried until the timeout, which the error
				// names; a conditional write is not retried and fails at
				// once.
				if tc.name != "Put" && !strings.Contains(err.Error(), "timeout of 1s") {
					t.Errorf("error does not name the configured timeout: %v", err)
				}
				t.Log(err)
			case <-ctx.Done():
				t.Fatal("no answer a minute after the emulator stopped, with a timeout of 1s")
			}
		})
	}
}

// TestLayout: the rows are tvix's: key and qualifier the hex digest, one
// cell in the family, value the canonical encoding; at a fixed timestamp,
// so a second write of the same directory leaves one version.
func TestLayout(t *testing.T) {
	f := newFixture(t)
	p := f.params(t)
	s := f.open(t, p, nil)
	raw := f.raw(t, p)
	ctx := t.Context()

	leaf := dirtest.MustDir(t, file("a", 1))
	parent := dirtest.MustDir(t, dirtest.Sub("leaf", leaf), file("b", 2))
	if _, err := dirtest.Put(ctx, s, leaf, parent); err != nil {
		t.Fatal(err)
	}
	// A second write of the leaf through the batched path (it is not the
	// root of this closure) and through Put.
	other := dirtest.MustDir(t, dirtest.Sub("leaf", leaf))
	if _, err := dirtest.Put(ctx, s, leaf, other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, leaf); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*castore.Directory{leaf, parent, other} {
		k := d.Digest().Hex()
		row, err := raw.ReadRow(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if len(row) != 1 || len(row[family]) != 1 {
			t.Fatalf("row %s: %v, want one cell in family %s", k, row, family)
		}
		cell := row[family][0]
		if cell.Row != k || cell.Column != family+":"+k || string(cell.Value) != string(d.Marshal()) || cell.Timestamp != 0 {
			t.Errorf("row %s holds cell %s at %d with %d bytes", k, cell.Column, cell.Timestamp, len(cell.Value))
		}
	}
}

// plant writes a cell behind the service's back.
func plant(t *testing.T, raw *gbt.Table, row, fam, qualifier string, ts gbt.Timestamp, value []byte) {
	t.Helper()
	m := gbt.NewMutation()
	m.Set(fam, qualifier, ts, value)
	if err := raw.Apply(t.Context(), row, m); err != nil {
		t.Fatalf("planting %s/%s:%s: %v", row, fam, qualifier, err)
	}
}

// TestForeignCells: cells the service did not write (another qualifier, a
// second version written at server time as tvix does) do not disturb it.
func TestForeignCells(t *testing.T) {
	f := newFixture(t)
	p := f.params(t)
	s := f.open(t, p, nil)
	raw := f.raw(t, p)
	ctx := t.Context()

	leaf := dirtest.MustDir(t, file("a", 1))
	parent := dirtest.MustDir(t, dirtest.Sub("leaf", leaf))
	lk, pk := leaf.Digest().Hex(), parent.Digest().Hex()
	// tvix wrote the leaf, at server time.
	plant(t, raw, lk, family, lk, gbt.ServerTime, leaf.Marshal())
	// Bucketing-style extra cells in the rows.
	plant(t, raw, lk, family, "bucket", gbt.ServerTime, []byte("not a directory"))
	plant(t, raw, lk, family, pk, gbt.ServerTime, []byte("another digest's qualifier"))
	// castore writes both (the leaf again, at its fixed timestamp).
	if _, err := dirtest.Put(ctx, s, leaf, parent); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, leaf); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, leaf.Digest())
	if err != nil || !got.Equal(leaf) {
		t.Fatalf("Get with foreign cells in the row: %v", err)
	}
	all, err := collect(ctx, s, parent.Digest())
	if err != nil || len(all) != 2 {
		t.Fatalf("GetRecursive with foreign cells: %d, %v", len(all), err)
	}
	// The putter saw the leaf's row and did not write it again: tvix's
	// cell is the only version.
	row, err := raw.ReadRow(ctx, lk, gbt.RowFilter(gbt.ColumnFilter(lk)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(row[family]); n != 1 || row[family][0].Timestamp == 0 {
		t.Errorf("the leaf's cell has %d versions (%v), want tvix's only", n, row[family])
	}
}

// TestHostileCells: bytes in the table are verified before anything is
// decoded or returned.
func TestHostileCells(t *testing.T) {
	f := newFixture(t)
	p := f.params(t)
	s := f.open(t, p, nil)
	raw := f.raw(t, p)
	ctx := t.Context()

	good := dirtest.MustDir(t, file("a", 1))
	// A cell whose bytes are not its key's.
	plant(t, raw, good.Digest().Hex(), family, good.Digest().Hex(), 0, dirtest.MustDir(t, file("b", 2)).Marshal())
	if _, err := s.Get(ctx, good.Digest()); !errors.Is(err, castore.ErrCorrupt) {
		t.Errorf("Get of a cell with the wrong bytes: %v, want ErrCorrupt", err)
	}
	if _, err := collect(ctx, s, good.Digest()); !errors.Is(err, castore.ErrCorrupt) {
		t.Errorf("GetRecursive of a cell with the wrong bytes: %v, want ErrCorrupt", err)
	}

	// Bytes that hash to their key but are no Directory.
	for _, junk := range [][]byte{{0xff, 0xff, 0xff}, {0x0a, 0x05, 0x0a}, []byte("\x1a\x00")} {
		d := castore.Sum(junk)
		plant(t, raw, d.Hex(), family, d.Hex(), 0, junk)
		if _, err := s.Get(ctx, d); !errors.Is(err, castore.ErrCorrupt) {
			t.Errorf("Get of undecodable bytes %x: %v, want ErrCorrupt", junk, err)
		}
	}

	// A cell over the limit, with the right digest.
	big := make([]byte, bigtable.CellSizeLimit+1)
	bd := castore.Sum(big)
	plant(t, raw, bd.Hex(), family, bd.Hex(), 0, big)
	if _, err := s.Get(ctx, bd); !errors.Is(err, bigtable.ErrTooLarge) {
		t.Errorf("Get of an oversized cell: %v, want ErrTooLarge", err)
	}

	// A parent (planted without validation) that gives its child the
	// wrong size.
	child := dirtest.MustDir(t, file("c", 3))
	if _, err := s.Put(ctx, child); err != nil {
		t.Fatal(err)
	}
	liar := dirtest.MustDir(t, castore.Entry{Name: "c", Node: castore.DirectoryNode(child.Digest(), child.Size()+5)})
	plant(t, raw, liar.Digest().Hex(), family, liar.Digest().Hex(), 0, liar.Marshal())
	if _, err := collect(ctx, s, liar.Digest()); !errors.Is(err, castore.ErrCorrupt) {
		t.Errorf("GetRecursive under a parent that lies about a size: %v, want ErrCorrupt", err)
	}
	// A parent whose child is missing.
	orphan := dirtest.MustDir(t, dirtest.Sub("gone", dirtest.MustDir(t, file("gone", 4))))
	plant(t, raw, orphan.Digest().Hex(), family, orphan.Digest().Hex(), 0, orphan.Marshal())
	all, err := collect(ctx, s, orphan.Digest())
	if !errors.Is(err, castore.ErrNotFound) || len(all) != 1 {
		t.Errorf("GetRecursive with a missing child: %d directories, %v, want the root then ErrNotFound", len(all), err)
	}

	// A row without the digest's cell: not found.
	lost := dirtest.MustDir(t, file("lost", 5))
	lk := lost.Digest().Hex()
	plant(t, raw, lk, family, "x"+lk[1:], 0, lost.Marshal())
	if _, err := s.Get(ctx, lost.Digest()); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("Get of a row without the digest's cell: %v, want ErrNotFound", err)
	}
}

// TestTooLarge: a directory over 10 MiB is refused by Put and by a
// putter's Put, and nothing of it is stored.
func TestTooLarge(t *testing.T) {
	f := newFixture(t)
	s := f.open(t, f.params(t), nil)
	ctx := t.Context()
	var es []castore.Entry
	pad := strings.Repeat("n", 240)
	for i := range 40000 {
		es = append(es, file(fmt.Sprintf("%s%010d", pad, i), i))
	}
	huge := dirtest.MustDir(t, es...)
	if n := len(huge.Marshal()); n <= bigtable.CellSizeLimit {
		t.Fatalf("test directory is only %d bytes", n)
	}
	if _, err := s.Put(ctx, huge); !errors.Is(err, bigtable.ErrTooLarge) {
		t.Errorf("Put of %d bytes: %v, want ErrTooLarge", len(huge.Marshal()), err)
	}
	// The putter refuses it as it arrives, not only at Close.
	p := s.NewPutter(ctx)
	if err := p.Put(huge); !errors.Is(err, bigtable.ErrTooLarge) {
		t.Errorf("putter's Put of %d bytes: %v, want ErrTooLarge", len(huge.Marshal()), err)
	}
	if _, err := p.Close(); !errors.Is(err, bigtable.ErrTooLarge) {
		t.Errorf("putter's Close after refusing a directory: %v, want ErrTooLarge", err)
	}
	if _, err := s.Get(ctx, huge.Digest()); !errors.Is(err, castore.ErrNotFound) {
		t.Errorf("after refusing it, Get = %v", err)
	}
}

// TestReadOnly: writes are refused locally, reads work.
func TestReadOnly(t *testing.T) {
	f := newFixture(t)
	p := f.params(t)
	rw := f.open(t, p, nil)
	ctx := t.Context()
	d := dirtest.MustDir(t, file("a", 1))
	if _, err := rw.Put(ctx, d); err != nil {
		t.Fatal(err)
	}
	p.IsReadOnly = true
	c := newCounter()
	ro := f.open(t, p, c)
	if _, err := ro.Get(ctx, d.Digest()); err != nil {
		t.Fatal(err)
	}
	other := dirtest.MustDir(t, file("b", 2))
	if _, err := ro.Put(ctx, other); !errors.Is(err, bigtable.ErrReadOnly) {
		t.Errorf("Put on a read-only service: %v", err)
	}
	if _, err := dirtest.Put(ctx, ro, other); !errors.Is(err, bigtable.ErrReadOnly) {
		t.Errorf("putter on a read-only service: %v", err)
	}
	if c.writes() != 0 {
		t.Errorf("a read-only service sent writes: %s", c)
	}
}

// TestParams: required parameters are named when missing; optional ones
// get tvix's defaults.
func TestParams(t *testing.T) {
	ctx := context.Background()
	_, err := bigtable.Open(ctx, bigtable.Params{InstanceName: "i", FamilyName: "cf"})
	if err == nil || !strings.Contains(err.Error(), "project_id") || !strings.Contains(err.Error(), "table_name") || strings.Contains(err.Error(), "family_name") {
		t.Errorf("missing project_id and table_name: %v", err)
	}
	for _, tc := range []struct {
		p    bigtable.Params
		want string
	}{
		{bigtable.Params{ProjectID: "p", InstanceName: "i", TableName: "t/x", FamilyName: "cf"}, "table_name"},
		{bigtable.Params{ProjectID: "p", InstanceName: "i", TableName: "t", FamilyName: "c:f"}, "family_name"},
		{bigtable.Params{ProjectID: "p", InstanceName: "i", TableName: "t", FamilyName: "cf", ChannelSize: -1}, "channel_size"},
		{bigtable.Params{ProjectID: "p", InstanceName: "i", TableName: "t", FamilyName: "cf", Timeout: -time.Second}, "timeout"},
		{bigtable.Params{ProjectID: "p", TableName: "t", FamilyName: "cf"}, "instance_name"},
	} {
		if _, err := bigtable.Open(ctx, tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%+v) = %v, want an error naming %s", tc.p, err, tc.want)
		}
	}

	f := newFixture(t)
	s := f.open(t, f.params(t), nil)
	got := s.Params()
	if got.AppProfileID != "default" || got.ChannelSize != 4 || got.Timeout != 4*time.Second || got.IsReadOnly {
		t.Errorf("defaults: %+v", got)
	}
}

// TestEmulatorHost: with BIGTABLE_EMULATOR_HOST set, Open needs no
// connection of its own.
func TestEmulatorHost(t *testing.T) {
	f := newFixture(t)
	p := f.params(t)
	f.emu.SetEnv(t)
	s, err := bigtable.Open(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	// A directory of about 6 MiB: over gRPC's default message size, under
	// the cell limit.
	var es []castore.Entry
	pad := strings.Repeat("n", 240)
	for i := range 22000 {
		es = append(es, file(fmt.Sprintf("%s%010d", pad, i), i))
	}
	d := dirtest.MustDir(t, es...)
	if _, err := s.Put(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(t.Context(), d.Digest()); err != nil || !got.Equal(d) {
		t.Fatalf("Get of %d bytes: %v", len(d.Marshal()), err)
	}
	// A table that does not exist is an error naming it, not a hang.
	p.TableName = "nosuchtable"
	s2, err := bigtable.Open(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Get(t.Context(), d.Digest()); err == nil || !strings.Contains(err.Error(), "nosuchtable") {
		t.Errorf("Get on a missing table: %v", err)
	}
}

// TestBatchedMatchesPerDirectory: GetRecursive yields exactly what the
// one-Get-per-directory walk yields, in the same order.
func TestBatchedMatchesPerDirectory(t *testing.T) {
	f := newFixture(t)
	s := f.open(t, f.params(t), nil)
	ctx := t.Context()
	// Diamonds across levels: shared leaves under several parents.
	shared := dirtest.MustDir(t, file("s", 1))
	a := dirtest.MustDir(t, dirtest.Sub("s", shared), file("a", 2))
	b := dirtest.MustDir(t, dirtest.Sub("s", shared), dirtest.Sub("a", a))
	c := dirtest.MustDir(t, dirtest.Sub("a", a), dirtest.Sub("b", b), dirtest.Sub("s", shared))
	root, err := dirtest.Put(ctx, s, shared, a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	batched, err := collect(ctx, s, root)
	if err != nil {
		t.Fatal(err)
	}
	var one []*castore.Directory
	for d, err := range closure.BreadthFirst(ctx, root, s.Get) {
		if err != nil {
			t.Fatal(err)
		}
		one = append(one, d)
	}
	if len(batched) != len(one) {
		t.Fatalf("batched %d, per directory %d", len(batched), len(one))
	}
	for i := range one {
		if !batched[i].Equal(one[i]) {
			t.Fatalf("[%d]: batched %s, per directory %s", i, batched[i].Digest(), one[i].Digest())
		}
	}
}

// TestFailedBatchLeavesNoRoot: when a batch of a closure cannot be
// written, Close fails and the root is not visible; the putter wrote
// nothing before Close.
func TestFailedBatchLeavesNoRoot(t *testing.T) {
	f := newFixture(t)
	c := newCounter()
	s := f.open(t, f.params(t), c)
	ctx := t.Context()
	tree := wideTree(t, 3, 10)
	p := s.NewPutter(ctx)
	for _, d := range tree {
		if err := p.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.writes() + c.get("ReadRows"); n != 0 {
		t.Fatalf("the putter sent %d requests before Close (%s)", n, c)
	}
	c.fail.Store("MutateRows")
	if _, err := p.Close(); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("Close with failing MutateRows: %v", err)
	}
	c.fail.Store("")
	root := tree[len(tree)-1].Digest()
	if _, err := s.Get(ctx, root); !errors.Is(err, castore.ErrNotFound) {
		t.Fatalf("after a failed batch, Get(root) = %v, want not found", err)
	}
	if c.get("CheckAndMutateRow") != 0 {
		t.Errorf("the root was written after a failed batch: %s", c)
	}
}
