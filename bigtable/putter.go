package bigtable

import (
	"context"
	"fmt"

	"cloud.google.com/go/bigtable"
	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

// Bounds of one batch a putter writes: rows and bytes of values.
const (
	writeBatchRows  = 1000
	writeBatchBytes = 16 << 20
)

// NewPutter returns a putter that validates the closure as it arrives
// (closure.LeavesFirstValidator) and writes nothing before Close. Close writes
// every directory but the root in batches, up to ChannelSize batches at
// once; each batch is one ReadRows that finds which rows exist already and
// one MutateRows that writes the others. Only when all of them are written
// does it write the root, with the same CheckAndMutateRow as Put. So a
// rejected or abandoned closure leaves no root, and a root is never
// visible before its closure.
//
// A batched write cannot be conditional (Bigtable has no conditional
// MutateRows), so "insert only when absent" is kept this way:
//
//   - rows that exist already are not written at all, which is what
//     check-and-mutate does, at the cost of one read per batch rather than
//     one request per row;
//   - between that read and the write another writer may insert the same
//     row. The value of a row is fixed by its key (the qualifier is the
//     digest of the value), so both write the same bytes; and every castore
//     write uses the same fixed cell timestamp (see cellTimestamp), so
//     castore writers overwrite one cell in place rather than piling up
//     versions. Only a race with a writer that uses server time (tvix) can
//     leave a second version, of identical bytes; reads ask for the newest
//     version only.
//
// Nothing is ever overwritten with different bytes: every value written
// is the encoding of a Directory whose digest is the row key.
func (s *Service) NewPutter(ctx context.Context) castore.DirectoryPutter {
	if s.p.IsReadOnly {
		return closure.FailedPutter(fmt.Errorf("put directories: %w", ErrReadOnly))
	}
	// Each directory is encoded as it arrives, so one over the size bound
	// is refused by its own Put.
	enc := map[castore.Digest][]byte{}
	return closure.NewPutter(ctx, func(ctx context.Context, root castore.Digest, dirs []*castore.Directory) error {
		if err := s.writeAllBut(ctx, root, dirs, enc); err != nil {
			return fmt.Errorf("put closure of %s: %w", root, err)
		}
		if err := s.insert(ctx, root, enc[root]); err != nil {
			return fmt.Errorf("put closure of %s: %w", root, err)
		}
		return nil
	}, func(dir *castore.Directory) error {
		d, b, err := encode(dir)
		enc[d] = b
		return err
	})
}

// writeAllBut writes every directory of dirs but root, in batches.
func (s *Service) writeAllBut(ctx context.Context, root castore.Digest, dirs []*castore.Directory, enc map[castore.Digest][]byte) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.p.ChannelSize)
	var batch []castore.Digest
	bytes := 0
	flush := func() {
		b := batch
		g.Go(func() error { return s.writeBatch(ctx, b, enc) })
		batch, bytes = nil, 0
	}
	for _, dir := range dirs {
		d := dir.Digest()
		if d == root {
			continue
		}
		n := len(enc[d])
		if len(batch) > 0 && (len(batch) == writeBatchRows || bytes+n > writeBatchBytes) {
			flush()
		}
		batch = append(batch, d)
		bytes += n
	}
	if len(batch) > 0 {
		flush()
	}
	return g.Wait()
}

// writeBatch writes the directories ds that are not stored yet: one
// ReadRows to find the stored ones, one MutateRows for the rest.
func (s *Service) writeBatch(ctx context.Context, ds []castore.Digest, enc map[castore.Digest][]byte) error {
	keys := make(bigtable.RowList, len(ds))
	for i, d := range ds {
		keys[i] = key(d)
	}
	present := make(map[string]bool, len(ds))
	err := s.withTimeout(ctx, "ReadRows", fmt.Sprintf("check %d directories", len(ds)), func(ctx context.Context) error {
		return s.table.ReadRows(ctx, keys, func(row bigtable.Row) bool {
			k := row.Key()
			for _, item := range row[s.p.FamilyName] {
				if item.Column == s.p.FamilyName+":"+k {
					present[k] = true
				}
			}
			return true
		}, bigtable.RowFilter(bigtable.ChainFilters(s.filterFor(""), bigtable.StripValueFilter())))
	})
	if err != nil {
		return err
	}
	var rows []string
	var written []castore.Digest
	var muts []*bigtable.Mutation
	for i, d := range ds {
		if present[keys[i]] {
			continue
		}
		m := bigtable.NewMutation()
		m.Set(s.p.FamilyName, keys[i], cellTimestamp, enc[d])
		rows = append(rows, keys[i])
		written = append(written, d)
		muts = append(muts, m)
	}
	if len(rows) == 0 {
		return nil
	}
	var errs []error
	err = s.withTimeout(ctx, "MutateRows", fmt.Sprintf("write %d directories", len(rows)), func(ctx context.Context) error {
		var err error
		errs, err = s.table.ApplyBulk(ctx, rows, muts)
		return err
	})
	if err != nil {
		return err
	}
	for i, e := range errs {
		if e != nil {
			return fmt.Errorf("bigtable table %s: write directory %s (and maybe others of %d): %w", s.p.TableName, written[i], len(rows), e)
		}
	}
	return nil
}
