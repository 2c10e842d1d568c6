package compose_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
)

func TestSpecFromURL(t *testing.T) {
	for _, tc := range []struct {
		kind   compose.Kind
		url    string
		typ    string
		params any
	}{
		{compose.Blobs, "memory://", "memory", &compose.MemoryBlobParams{}},
		{compose.Blobs, "memory://?max_bytes=1048576", "memory", &compose.MemoryBlobParams{MaxBytes: 1 << 20}},
		{compose.Directories, "memory://", "memory", &compose.MemoryParams{}},
		{compose.Blobs, "objectstore+file:///var/lib/castore/blobs", "objectstore", &compose.ObjectStoreBlobParams{URL: "file:///var/lib/castore/blobs"}},
		{compose.Blobs, "objectstore+s3://b/p?region=x&avg_chunk_size=65536", "objectstore", &compose.ObjectStoreBlobParams{URL: "s3://b/p?region=x", AvgChunkSize: 65536}},
		{compose.Blobs, "objectstore+file:///c/blobs?sync=none&max_bytes=1048576", "objectstore", &compose.ObjectStoreBlobParams{URL: "file:///c/blobs?sync=none", MaxBytes: 1 << 20}},
		{compose.Blobs, "objectstore+s3://b/p?chunk_layout=snix", "objectstore", &compose.ObjectStoreBlobParams{URL: "s3://b/p", ChunkLayout: "snix"}},
		{compose.Blobs, "objectstore+pack:///d/packs?compression=fastest", "objectstore", &compose.ObjectStoreBlobParams{URL: "pack:///d/packs", Compression: "fastest"}},
		{compose.Directories, "objectstore+gs://b/p", "objectstore", &compose.ObjectStoreDirectoryParams{URL: "gs://b/p"}},
		{compose.Directories, "bolt:///tmp/d.db", "embedded", &compose.EmbeddedParams{Path: "/tmp/d.db"}},
		{compose.Blobs, "grpc+unix:///run/c.sock", "grpc", &compose.GRPCParams{URL: "grpc+unix:///run/c.sock"}},
		{compose.Blobs, "grpc+http://[::1]:1,127.0.0.2:1", "grpc", &compose.GRPCParams{URL: "grpc+http://[::1]:1,127.0.0.2:1"}},
		{compose.Directories, "bigtable://inst?project_id=p&table_name=t&family_name=f&timeout=2s&channel_size=2&is_read_only=true", "bigtable",
			&compose.BigtableParams{InstanceName: "inst", ProjectID: "p", TableName: "t", FamilyName: "f", AppProfileID: "default", ChannelSize: 2, Timeout: compose.Duration(2 * time.Second), IsReadOnly: true}},
	} {
		typ, params, err := compose.SpecFromURL(tc.kind, tc.url)
		if err != nil || typ != tc.typ {
			t.Errorf("SpecFromURL(%s) = %s, %v", tc.url, typ, err)
			continue
		}
		if got, want := strings.TrimSpace(fmtAny(params)), strings.TrimSpace(fmtAny(tc.params)); got != want {
			t.Errorf("SpecFromURL(%s) params = %s, want %s", tc.url, got, want)
		}
	}
	for _, tc := range []struct {
		kind compose.Kind
		url  string
		want string
	}{
		{compose.Blobs, "bolt:///x.db", "not blobs"},
		{compose.Directories, "bolt://relative/x.db", "absolute"},
		{compose.Blobs, "ftp://x", `unknown scheme "ftp"`},
		{compose.Blobs, "/just/a/path", "no scheme"},
		{compose.Blobs, "memory://host", "no host"},
		{compose.Blobs, "memory://?max_bytes=lots", "max_bytes"},
		{compose.Blobs, "memory://?max_bytes=0", "max_bytes"},
		{compose.Blobs, "memory://?colour=red", `unknown option "colour"`},
		{compose.Directories, "memory://?max_bytes=1", "no options"},
		{compose.Directories, "bigtable://i?colour=red", `unknown option "colour"`},
		{compose.Directories, "bigtable://i?timeout=soon", "timeout"},
		{compose.Blobs, "objectstore+s3://b?avg_chunk_size=-1", "avg_chunk_size"},
		{compose.Blobs, "objectstore+file:///c?max_bytes=big", "max_bytes"},
		{compose.Blobs, "objectstore+file:///c?chunk_layout=nix", "chunk layout"},
		{compose.Blobs, "objectstore+file:///c?compression=max", "compression"},
		{compose.Blobs, "objectstore+s3://AKIA:hunter2@b/p%zz", "address"},
	} {
		_, _, err := compose.SpecFromURL(tc.kind, tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SpecFromURL(%s) = %v, want an error containing %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("SpecFromURL(%s) leaks a secret: %v", tc.url, err)
		}
	}
}

func fmtAny(v any) string { return strings.ReplaceAll(fmtV(v), "\n", " ") }

func fmtV(v any) string { return fmt.Sprintf("%+v", v) }

// A config file's timeout is a Go duration or, as tvix writes it, a
// number of seconds.
func TestConfigDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"4": 4 * time.Second, "2s": 2 * time.Second, `"0.5"`: 500 * time.Millisecond, "1m30s": 90 * time.Second} {
		var got *compose.BigtableParams
		r := compose.NewRegistry()
		compose.RegisterDirectoryService(r, "bt", func(ctx context.Context, c *compose.Composition, p *compose.BigtableParams) (castore.DirectoryService, error) {
			got = p
			return nil, nil // a builder that returns nothing is an error, not a panic
		})
		c := compose.New(r)
		if err := c.Load([]byte("directoryservices:\n  default: {type: bt, timeout: " + in + "}\n")); err != nil {
			t.Fatalf("timeout %s: %v", in, err)
		}
		if _, err := c.DirectoryService(t.Context(), "default"); err == nil || !strings.Contains(err.Error(), "no service") {
			t.Errorf("a builder returning nil: %v", err)
		}
		if got == nil || time.Duration(got.Timeout) != want {
			t.Errorf("timeout %s = %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{"-1", "0", "soon", "[1]"} {
		c := compose.New(compose.DefaultRegistry())
		err := c.Load([]byte("directoryservices:\n  default: {type: bigtable, timeout: " + in + "}\n"))
		if err == nil || !strings.Contains(err.Error(), "timeout") && !strings.Contains(err.Error(), "duration") {
			t.Errorf("timeout %s: %v, want an error about the timeout", in, err)
		}
	}
}
