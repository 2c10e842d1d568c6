package compose

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/internal/redact"
)

// Parameters of castore's own service types, as written in a config file.

// MemoryParams has no parameters.
type MemoryParams struct{}

// MemoryBlobParams: blobs in memory.
type MemoryBlobParams struct {
	// MaxBytes bounds the bytes held, dropping the least recently used
	// blobs beyond it: a near cache, never a store of record. 0 keeps
	// everything.
	MaxBytes int64 `yaml:"max_bytes"`
}

// ObjectStoreBlobParams: chunked blobs on an object store.
type ObjectStoreBlobParams struct {
	// URL of the object store: s3://, gs://, file:///abs, memory://.
	URL string `yaml:"url"`
	// AvgChunkSize is the FastCDC average chunk size in bytes (default
	// 256 KiB).
	AvgChunkSize int `yaml:"avg_chunk_size"`
	// ChunkLayout is where new chunks go: "tvix" (chunks/b3/, the
	// default) or "snix" (chunk/b3/, as snix's object-store chunk store
	// keeps them). Chunks are read from both.
	ChunkLayout string `yaml:"chunk_layout"`
	// Compression is the zstd level new chunks are stored at: fastest,
	// default (the default) or better. Any level reads back.
	Compression string `yaml:"compression"`
	// MaxBytes, for a file:// store only, keeps it within that many bytes,
	// evicting the least recently read objects (filestore.LRU): a near
	// cache, never a store of record. 0 keeps everything.
	MaxBytes int64 `yaml:"max_bytes"`
}

// ObjectStoreDirectoryParams: directory closures as bundles on an object
// store.
type ObjectStoreDirectoryParams struct {
	URL string `yaml:"url"`
}

// EmbeddedParams: the embedded directory store in one local file.
type EmbeddedParams struct {
	Path string `yaml:"path"`
}

// GRPCParams: a remote castore or tvix server.
type GRPCParams struct {
	URL string `yaml:"url"`
}

// CombinedParams: a near/far blob service.
type CombinedParams struct {
	Near string `yaml:"near"`
	Far  string `yaml:"far"`
	// Write says where new blobs go: "near", "far" or "both" (default).
	Write string `yaml:"write"`
}

func (p *CombinedParams) Refs() []string { return []string{p.Near, p.Far} }

// CacheParams: a near/far directory service.
type CacheParams struct {
	Near string `yaml:"near"`
	Far  string `yaml:"far"`
}

func (p *CacheParams) Refs() []string { return []string{p.Near, p.Far} }

// BigtableParams: directories in Cloud Bigtable.
type BigtableParams struct {
	ProjectID    string   `yaml:"project_id"`
	InstanceName string   `yaml:"instance_name"`
	TableName    string   `yaml:"table_name"`
	FamilyName   string   `yaml:"family_name"`
	AppProfileID string   `yaml:"app_profile_id"`
	ChannelSize  int      `yaml:"channel_size"`
	Timeout      Duration `yaml:"timeout"`
	IsReadOnly   bool     `yaml:"is_read_only"`
}

// Duration is a time span in a config file: a Go duration ("4s",
// "1m30s") or, as tvix writes it, a number of seconds (4, "4", 0.5).
type Duration time.Duration

// UnmarshalYAML accepts both forms; zero and negative spans are errors.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration like 4s or a number of seconds", node.Line)
	}
	v, err := parseDuration(node.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", node.Line, err)
	}
	*d = Duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		if secs, err2 := strconv.ParseFloat(s, 64); err2 == nil {
			d, err = time.Duration(secs*float64(time.Second)), nil
		}
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("timeout must be a duration like 4s or a positive number of seconds, got %q", s)
	}
	return d, nil
}

// positiveBytes parses the value v of URL option key as a positive number
// of bytes.
func positiveBytes(key, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 0)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s must be a positive number of bytes, got %q", key, v)
	}
	return n, nil
}

// SpecFromURL turns a service URL into a type and its parameters:
//
//	memory://, memory://?max_bytes=N (blobs)   memory
//	objectstore+s3://bucket/prefix?...         objectstore (blobs or bundles)
//	objectstore+gs://bucket/prefix             objectstore
//	objectstore+file:///abs/path               objectstore
//	objectstore+memory:///                     objectstore
//	bolt:///abs/path.db                        embedded (directories or tags)
//	bigtable://INSTANCE?project_id=..&...      bigtable (directories only)
//	grpc+http://host:port, grpc+https://.., grpc+unix:///..   grpc
//
// A grpc+ address goes to grpcapi.Dial as it is, which checks it: it may
// name a list of hosts, which url.Parse does not take.
func SpecFromURL(k Kind, raw string) (typ string, params any, err error) {
	if scheme, _, ok := strings.Cut(raw, "://"); ok && strings.HasPrefix(strings.ToLower(scheme), "grpc+") {
		return "grpc", &GRPCParams{URL: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, fmt.Errorf("service address %q: %w", redact.URL(raw, redact.NotSecret), errors.Unwrap(err))
	}
	bad := func(format string, args ...any) (string, any, error) {
		return "", nil, fmt.Errorf("service address %q: %s", redact.URL(raw, redact.NotSecret), fmt.Sprintf(format, args...))
	}
	switch {
	case u.Scheme == "memory":
		if u.Host != "" || (u.Path != "" && u.Path != "/") {
			return bad("memory:// takes no host or path")
		}
		q := u.Query()
		if k != Blobs {
			if u.RawQuery != "" {
				return bad("memory:// for directories takes no options")
			}
			return "memory", &MemoryParams{}, nil
		}
		p := &MemoryBlobParams{}
		for key, vals := range q {
			if key != "max_bytes" {
				return bad("unknown option %q (memory:// for blobs takes max_bytes)", key)
			}
			n, err := positiveBytes(key, vals[0])
			if err != nil {
				return bad("%v", err)
			}
			p.MaxBytes = n
		}
		return "memory", p, nil
	case strings.HasPrefix(u.Scheme, "objectstore+"):
		inner := strings.TrimPrefix(raw, "objectstore+")
		iu, err := url.Parse(inner)
		if err != nil || iu.Scheme == "" {
			return bad("want objectstore+SCHEME://… with SCHEME one of s3, gs, file, memory")
		}
		if k == Blobs {
			p := &ObjectStoreBlobParams{URL: inner}
			q := u.Query()
			if v := q.Get("avg_chunk_size"); v != "" {
				n, err := positiveBytes("avg_chunk_size", v)
				if err != nil {
					return bad("%v", err)
				}
				p.AvgChunkSize = int(n)
				q.Del("avg_chunk_size")
			}
			if v := q.Get("max_bytes"); v != "" {
				n, err := positiveBytes("max_bytes", v)
				if err != nil {
					return bad("%v", err)
				}
				p.MaxBytes = n
				q.Del("max_bytes")
			}
			if v := q.Get("chunk_layout"); v != "" {
				if _, err := chunkfmt.ParseChunkLayout(v); err != nil {
					return bad("%v", err)
				}
				p.ChunkLayout = v
				q.Del("chunk_layout")
			}
			if v := q.Get("compression"); v != "" {
				if _, err := chunkfmt.ParseCompression(v); err != nil {
					return bad("%v", err)
				}
				p.Compression = v
				q.Del("compression")
			}
			if p.AvgChunkSize != 0 || p.MaxBytes != 0 || p.ChunkLayout != "" || p.Compression != "" {
				iu.RawQuery = q.Encode()
				p.URL = iu.String()
			}
			return "objectstore", p, nil
		}
		if k == Refs {
			return "objectstore", &ObjectStoreRefParams{URL: inner}, nil
		}
		return "objectstore", &ObjectStoreDirectoryParams{URL: inner}, nil
	case strings.HasPrefix(u.Scheme, "grpc+"):
		return "grpc", &GRPCParams{URL: raw}, nil
	case u.Scheme == "bolt":
		if k == Blobs {
			return bad("bolt:// holds directories or tags, not blobs")
		}
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return bad("want bolt:///absolute/path.db")
		}
		return "embedded", &EmbeddedParams{Path: u.Path}, nil
	case u.Scheme == "bigtable":
		if k != Directories {
			return bad("bigtable:// holds directories only")
		}
		p := &BigtableParams{InstanceName: u.Host, ChannelSize: 4, Timeout: Duration(4 * time.Second), AppProfileID: "default"}
		q := u.Query()
		for key, vals := range q {
			v := vals[0]
			switch key {
			case "project_id":
				p.ProjectID = v
			case "table_name":
				p.TableName = v
			case "family_name":
				p.FamilyName = v
			case "app_profile_id":
				p.AppProfileID = v
			case "channel_size":
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 {
					return bad("channel_size must be a positive integer, got %q", v)
				}
				p.ChannelSize = n
			case "timeout":
				d, err := parseDuration(v)
				if err != nil {
					return bad("%v", err)
				}
				p.Timeout = Duration(d)
			case "is_read_only":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return bad("is_read_only must be true or false, got %q", v)
				}
				p.IsReadOnly = b
			default:
				return bad("unknown option %q", key)
			}
		}
		return "bigtable", p, nil
	case u.Scheme == "":
		return bad("no scheme: want e.g. grpc+http://host:port, objectstore+file:///abs/path, bolt:///abs/path.db or memory://")
	}
	return bad("unknown scheme %q", u.Scheme)
}
