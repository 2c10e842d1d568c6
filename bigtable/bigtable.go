package bigtable

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/bigtable"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
)

// CellSizeLimit is the largest encoded Directory the service stores or
// reads: Bigtable advises against cells over 10 MiB.
const CellSizeLimit = 10 << 20

// ErrTooLarge is wrapped by the error for a directory whose encoding is over
// CellSizeLimit.
var ErrTooLarge = errors.New("directory is larger than the Bigtable cell limit of 10 MiB")

// ErrReadOnly is wrapped by the error for a write to a read-only service.
var ErrReadOnly = errors.New("the bigtable directory service is read-only (is_read_only)")

// Defaults of the optional parameters, as in tvix.
const (
	DefaultAppProfileID = "default"
	DefaultChannelSize  = 4
	DefaultTimeout      = 4 * time.Second
)

// Params say where the directories are and how to talk to Bigtable. The
// names are those of the URL and config keys.
type Params struct {
	ProjectID    string // project_id, required
	InstanceName string // instance_name (the URL's host), required
	TableName    string // table_name, required
	FamilyName   string // family_name, required
	AppProfileID string // app_profile_id, default "default"
	// ChannelSize is the number of gRPC connections (channel_size,
	// default 4); it also bounds how many batches a putter writes at once.
	ChannelSize int
	// Timeout bounds every request to Bigtable (timeout, default 4s): an
	// unreachable server is an error after it, not a hang.
	Timeout time.Duration
	// IsReadOnly asks for a read-only token scope and refuses writes
	// locally (is_read_only).
	IsReadOnly bool
}

// Bigtable's naming rules for tables and column families.
var (
	tableNameRE  = regexp.MustCompile(`^[_a-zA-Z0-9][-_.a-zA-Z0-9]*$`)
	familyNameRE = regexp.MustCompile(`^[-_.a-zA-Z0-9]+$`)
)

// withDefaults fills the optional parameters left at zero and checks them
// all; a missing required parameter is an error that names it.
func (p Params) withDefaults() (Params, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"project_id", p.ProjectID}, {"instance_name", p.InstanceName},
		{"table_name", p.TableName}, {"family_name", p.FamilyName},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return p, fmt.Errorf("bigtable: missing required parameter(s): %s", strings.Join(missing, ", "))
	}
	if !tableNameRE.MatchString(p.TableName) {
		return p, fmt.Errorf("bigtable: table_name %q is not a valid Bigtable table name", p.TableName)
	}
	if !familyNameRE.MatchString(p.FamilyName) {
		return p, fmt.Errorf("bigtable: family_name %q is not a valid Bigtable column family name", p.FamilyName)
	}
	if p.AppProfileID == "" {
		p.AppProfileID = DefaultAppProfileID
	}
	switch {
	case p.ChannelSize < 0:
		return p, fmt.Errorf("bigtable: channel_size must be positive, got %d", p.ChannelSize)
	case p.ChannelSize == 0:
		p.ChannelSize = DefaultChannelSize
	}
	switch {
	case p.Timeout < 0:
		return p, fmt.Errorf("bigtable: timeout must be positive, got %v", p.Timeout)
	case p.Timeout == 0:
		p.Timeout = DefaultTimeout
	}
	return p, nil
}

// Service is a DirectoryService on one Bigtable table. Close it to release
// its connections.
type Service struct {
	p      Params
	client *bigtable.Client
	table  *bigtable.Table
	conn   *grpc.ClientConn // to the emulator, if we dialed it
}

var _ castore.DirectoryService = (*Service)(nil)

// Open connects to Bigtable. Extra client options come after the service's
// own (tests pass a pre-dialed connection with option.WithGRPCConn). It
// does not contact the server: a missing table is an error on first use.
func Open(ctx context.Context, p Params, opts ...option.ClientOption) (*Service, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	var o []option.ClientOption
	o = append(o, option.WithGRPCConnectionPool(p.ChannelSize))
	if p.IsReadOnly {
		o = append(o, option.WithScopes(bigtable.ReadonlyScope))
	}
	conn, err := dialEmulator()
	if err != nil {
		return nil, err
	}
	if conn != nil {
		o = append(o, option.WithGRPCConn(conn), option.WithoutAuthentication())
	}
	o = append(o, opts...)
	client, err := bigtable.NewClientWithConfig(ctx, p.ProjectID, p.InstanceName, bigtable.ClientConfig{
		AppProfile: p.AppProfileID,
		// castore exports its own metrics; the built-in Cloud Monitoring
		// exporter would need monitoring permissions of its own.
		MetricsProvider: bigtable.NoopMetricsProvider{},
	}, o...)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("bigtable: connect to project %s instance %s: %w", p.ProjectID, p.InstanceName, err)
	}
	return &Service{p: p, client: client, table: client.Open(p.TableName), conn: conn}, nil
}

// dialEmulator connects to BIGTABLE_EMULATOR_HOST, if set, as the client
// library would, but allowing the library's production message sizes: the
// library's own emulator connection keeps gRPC's 4 MiB default, too small
// for a 10 MiB cell.
func dialEmulator() (*grpc.ClientConn, error) {
	host := os.Getenv("BIGTABLE_EMULATOR_HOST")
	if host == "" {
		return nil, nil
	}
	target := host
	if !strings.HasPrefix(host, "unix:") {
		target = "passthrough:///" + host
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<28), grpc.MaxCallSendMsgSize(1<<28)))
	if err != nil {
		return nil, fmt.Errorf("bigtable: BIGTABLE_EMULATOR_HOST=%s: %w", host, err)
	}
	return conn, nil
}

// Close releases the client's connections.
func (s *Service) Close() error {
	err := s.client.Close()
	if s.conn != nil {
		// The client closes the connection it was given; this is in
		// case it did not, and its "already closing" error is no news.
		s.conn.Close()
	}
	return err
}

// Params returns the parameters in use, defaults filled in.
func (s *Service) Params() Params { return s.p }

// key is the row key and the column qualifier of a directory.
func key(d castore.Digest) string { return d.Hex() }

// cellTimestamp is the timestamp of every cell the service writes.
//
// Bigtable keeps a new version of a cell for every write at a new
// timestamp. A fixed timestamp makes writing a directory idempotent: a
// second write of the same row, column and timestamp replaces the cell
// with the same bytes (the value is content-addressed by its qualifier)
// instead of adding a version, and the client library may retry it (it
// retries only mutations that do not ask for server time). Zero is the
// protocol's default timestamp. A column family with an age-based
// garbage-collection rule would drop these cells; castore's families must
// not have one (it would lose directories that roots still refer to, at any
// timestamp).
const cellTimestamp bigtable.Timestamp = 0

// filterFor returns the read filter for the cell of one directory, or, for
// batched reads (one == ""), for the cells of any directory: the family,
// the qualifier (for a batch, the range of qualifiers that starts with a
// hex digit; which one a row must hold is checked when it is decoded), and
// only the newest version. Column ranges, not regular expressions: Bigtable
// evaluates them more cheaply, and no name needs escaping.
func (s *Service) filterFor(one string) bigtable.Filter {
	start, end := "0", "g" // '0'-'9' < 'a'-'f' < 'g'
	if one != "" {
		start, end = one, one+"\x00" // exactly one
	}
	return bigtable.ChainFilters(
		bigtable.ColumnRangeFilter(s.p.FamilyName, start, end),
		bigtable.LatestNFilter(1),
	)
}

// withTimeout runs one request (op is its Bigtable method: ReadRows,
// MutateRows, CheckAndMutateRow) with the configured timeout, in a span of
// its own, and says so when that timeout is what ended it.
func (s *Service) withTimeout(ctx context.Context, op, what string, f func(ctx context.Context) error) (err error) {
	ctx, span := otel.Tracer("github.com/castore-go/castore/bigtable").Start(ctx, "bigtable."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("bigtable.table", s.p.TableName), attribute.String("bigtable.request", what)))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	rctx, cancel := context.WithTimeout(ctx, s.p.Timeout)
	defer cancel()
	err = f(rctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil && rctx.Err() != nil {
		return fmt.Errorf("bigtable table %s: %s: no answer within the timeout of %v: %w", s.p.TableName, what, s.p.Timeout, err)
	}
	return fmt.Errorf("bigtable table %s: %s: %w", s.p.TableName, what, err)
}

// decodeRow finds the cell of directory d in a row read with filterFor,
// verifies it and decodes it. A row without that cell is not found.
func decodeRow(d castore.Digest, family string, row bigtable.Row) (*castore.Directory, error) {
	column := family + ":" + key(d)
	for _, item := range row[family] {
		if item.Column != column {
			continue
		}
		if len(item.Value) > CellSizeLimit {
			return nil, fmt.Errorf("directory %s: stored cell is %d bytes: %w: %w", d, len(item.Value), ErrTooLarge, castore.ErrCorrupt)
		}
		if castore.Sum(item.Value) != d {
			return nil, fmt.Errorf("directory %s: stored bytes do not match the digest: %w", d, castore.ErrCorrupt)
		}
		dir, err := castore.UnmarshalDirectory(item.Value)
		if err != nil {
			return nil, fmt.Errorf("directory %s: %w: %w", d, castore.ErrCorrupt, err)
		}
		return dir, nil
	}
	return nil, fmt.Errorf("directory %s: %w", d, castore.ErrNotFound)
}

// readBatch bounds the rows asked for in one ReadRows.
const readBatch = 10000

// readMany reads the directories ds (distinct) with one ReadRows per
// readBatch of them. Directories that are not stored are absent from the
// map.
func (s *Service) readMany(ctx context.Context, ds []castore.Digest) (map[castore.Digest]*castore.Directory, error) {
	out := make(map[castore.Digest]*castore.Directory, len(ds))
	for len(ds) > 0 {
		n := min(len(ds), readBatch)
		if err := s.readInto(ctx, ds[:n], out); err != nil {
			return nil, err
		}
		ds = ds[n:]
	}
	return out, nil
}

func (s *Service) readInto(ctx context.Context, ds []castore.Digest, out map[castore.Digest]*castore.Directory) error {
	keys := make(bigtable.RowList, len(ds))
	asked := make(map[string]castore.Digest, len(ds))
	for i, d := range ds {
		keys[i] = key(d)
		asked[keys[i]] = d
	}
	one := ""
	if len(ds) == 1 {
		one = keys[0]
	}
	what := fmt.Sprintf("read %d directories", len(ds))
	if one != "" {
		what = "read directory " + ds[0].String()
	}
	var derr error
	err := s.withTimeout(ctx, "ReadRows", what, func(ctx context.Context) error {
		return s.table.ReadRows(ctx, keys, func(row bigtable.Row) bool {
			d, ok := asked[row.Key()]
			if !ok {
				derr = fmt.Errorf("bigtable table %s: %s: got row %q, which was not asked for", s.p.TableName, what, row.Key())
				return false
			}
			dir, err := decodeRow(d, s.p.FamilyName, row)
			switch {
			case errors.Is(err, castore.ErrNotFound):
			case err != nil:
				derr = fmt.Errorf("bigtable table %s: %w", s.p.TableName, err)
				return false
			default:
				out[d] = dir
			}
			return true
		}, bigtable.RowFilter(s.filterFor(one)))
	})
	if derr != nil {
		return derr
	}
	return err
}

// Get reads one directory.
func (s *Service) Get(ctx context.Context, d castore.Digest) (*castore.Directory, error) {
	got, err := s.readMany(ctx, []castore.Digest{d})
	if err != nil {
		return nil, err
	}
	dir, ok := got[d]
	if !ok {
		return nil, fmt.Errorf("bigtable table %s: directory %s: %w", s.p.TableName, d, castore.ErrNotFound)
	}
	return dir, nil
}

// Addressing is castore.AddressesAll: every directory is a row of its own.
func (s *Service) Addressing() castore.Addressing { return castore.AddressesAll }

// GetRecursive yields the closure of root, root first, breadth-first, each
// directory once, reading each level with one ReadRows (per readBatch
// directories). A subdirectory whose size is not the one its parent gives
// it is corrupt.
func (s *Service) GetRecursive(ctx context.Context, root castore.Digest) iter.Seq2[*castore.Directory, error] {
	type want struct {
		d    castore.Digest
		size uint64 // as the parent gives it; not checked for the root
	}
	return func(yield func(*castore.Directory, error) bool) {
		fail := func(err error) { yield(nil, fmt.Errorf("closure of %s: %w", root, err)) }
		seen := map[castore.Digest]bool{root: true}
		level := []want{{d: root}}
		for len(level) > 0 {
			ds := make([]castore.Digest, len(level))
			for i, w := range level {
				ds[i] = w.d
			}
			got, err := s.readMany(ctx, ds)
			if err != nil {
				fail(err)
				return
			}
			var next []want
			for _, w := range level {
				dir, ok := got[w.d]
				switch {
				case !ok && w.d == root:
					return // an unknown root is an empty closure
				case !ok:
					fail(fmt.Errorf("bigtable table %s: directory %s: %w", s.p.TableName, w.d, castore.ErrNotFound))
					return
				case w.d != root && dir.Size() != w.size:
					fail(fmt.Errorf("bigtable table %s: directory %s has size %d, its parent gives it %d: %w", s.p.TableName, w.d, dir.Size(), w.size, castore.ErrCorrupt))
					return
				}
				for _, e := range dir.Entries() {
					if e.Node.Type == castore.NodeDirectory && !seen[e.Node.Digest] {
						seen[e.Node.Digest] = true
						next = append(next, want{d: e.Node.Digest, size: e.Node.Size})
					}
				}
				if !yield(dir, nil) {
					return
				}
			}
			level = next
		}
	}
}

// encode returns the cell value of dir, refusing one over CellSizeLimit.
func encode(dir *castore.Directory) (castore.Digest, []byte, error) {
	d := dir.Digest()
	b := dir.Marshal()
	if len(b) > CellSizeLimit {
		return d, nil, fmt.Errorf("directory %s: encoded in %d bytes: %w", d, len(b), ErrTooLarge)
	}
	return d, b, nil
}

// Put stores one directory whose subdirectories are stored already, with
// the sizes it gives them (checked with one batched read). The write is a
// CheckAndMutateRow: the cell is set only if the row has none.
func (s *Service) Put(ctx context.Context, dir *castore.Directory) (castore.Digest, error) {
	if s.p.IsReadOnly {
		return castore.Digest{}, fmt.Errorf("put directory %s: %w", dir.Digest(), ErrReadOnly)
	}
	d, b, err := encode(dir)
	if err != nil {
		return d, err
	}
	var kids []castore.Digest
	seen := map[castore.Digest]bool{}
	for _, e := range dir.Entries() {
		if e.Node.Type == castore.NodeDirectory && !seen[e.Node.Digest] {
			seen[e.Node.Digest] = true
			kids = append(kids, e.Node.Digest)
		}
	}
	got := map[castore.Digest]*castore.Directory{}
	if len(kids) > 0 {
		if got, err = s.readMany(ctx, kids); err != nil {
			return d, fmt.Errorf("put directory %s: %w", d, err)
		}
	}
	err = closure.CheckChildren(dir, "is not stored", func(c castore.Digest) (uint64, bool, error) {
		child, ok := got[c]
		if !ok {
			return 0, false, nil
		}
		return child.Size(), true, nil
	})
	if err != nil {
		return d, err
	}
	return d, s.insert(ctx, d, b)
}

// insert writes one cell unless the row already has it.
func (s *Service) insert(ctx context.Context, d castore.Digest, value []byte) error {
	k := key(d)
	set := bigtable.NewMutation()
	set.Set(s.p.FamilyName, k, cellTimestamp, value)
	m := bigtable.NewCondMutation(s.filterFor(k), nil, set)
	return s.withTimeout(ctx, "CheckAndMutateRow", "write directory "+d.String(), func(ctx context.Context) error {
		return s.table.Apply(ctx, k, m)
	})
}
