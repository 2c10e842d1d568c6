package compose_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/reftest"
)

func TestRefSpecFromURL(t *testing.T) {
	for raw, want := range map[string]string{
		"memory://":                      "memory",
		"bolt:///abs/refs.db":            "embedded",
		"objectstore+file:///abs/store":  "objectstore",
		"objectstore+s3://bucket/prefix": "objectstore",
		"grpc+http://localhost:8000":     "grpc",
	} {
		typ, _, err := compose.SpecFromURL(compose.Refs, raw)
		if err != nil || typ != want {
			t.Errorf("SpecFromURL(refs, %q) = %q, %v; want %q", raw, typ, err, want)
		}
	}
	for _, raw := range []string{"bigtable://i?project_id=p", "bolt://relative.db", "nothing"} {
		if typ, _, err := compose.SpecFromURL(compose.Refs, raw); err == nil {
			t.Errorf("SpecFromURL(refs, %q) = %q, want an error", raw, typ)
		}
	}
	if _, _, err := compose.SpecFromURL(compose.Blobs, "bolt:///abs/x.db"); err == nil {
		t.Errorf("bolt:// blobs accepted")
	}
}

func TestDefaultRefAddr(t *testing.T) {
	for dirs, want := range map[string]string{
		"bolt:///data/directories.db":  "bolt:///data/refs.db",
		"objectstore+s3://b/p":         "objectstore+s3://b/p",
		"grpc+http://localhost:8000":   "grpc+http://localhost:8000",
		"memory://":                    "memory://",
		"bigtable://inst?project_id=p": "",
	} {
		if got := compose.DefaultRefAddr(dirs); got != want {
			t.Errorf("DefaultRefAddr(%q) = %q, want %q", dirs, got, want)
		}
	}
}

// Every ref service type of a config file builds and keeps the contract.
func TestRefServicesConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
blobservices:
  default: {type: memory}
directoryservices:
  default: {type: memory}
refservices:
  default: {type: embedded, path: %[1]s/refs.db}
  mem: {type: memory}
  file: {type: objectstore, url: "file://%[1]s/store"}
`, dir)
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := compose.Open(t.Context(), compose.DefaultRegistry(), compose.Options{ConfigFile: p})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"mem", "file", compose.DefaultName} {
		t.Run(name, func(t *testing.T) {
			refs, err := s.RefService(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			reftest.MustSet(t, refs, castore.Tag{Name: "x/" + name, Root: castore.SymlinkNode("t")})
			got, err := refs.Get(t.Context(), "x/"+name)
			if err != nil || got.Name != "x/"+name {
				t.Fatalf("Get = %+v, %v", got, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "refs.db")); err != nil {
		t.Fatalf("the embedded ref service made no file: %v", err)
	}
}

// With addresses, the tags of the embedded directory store are beside it
// in refs.db, opened only when asked for; CompleteRefs checks closures.
func TestOpenRefsBesideEmbedded(t *testing.T) {
	dir := t.TempDir()
	s, err := compose.Open(t.Context(), compose.DefaultRegistry(), compose.Options{
		BlobServiceAddr: "memory://", DirectoryServiceAddr: "bolt://" + filepath.Join(dir, "directories.db"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, "refs.db")); err == nil {
		t.Fatalf("refs.db made before the tags were asked for")
	}
	refs, err := s.CompleteRefs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "refs.db")); err != nil {
		t.Fatalf("no refs.db beside directories.db: %v", err)
	}
	leaf, mid, root := dirtest.SmallClosure(t)
	if _, err := refs.Set(t.Context(), castore.Tag{Name: "t", Root: root.Node()}, castore.ExpectAbsent()); !errors.Is(err, castore.ErrIncomplete) {
		t.Fatalf("Set of a root not stored: %v, want ErrIncomplete", err)
	}
	if _, err := dirtest.Put(t.Context(), s.Directories, leaf, mid, root); err != nil {
		t.Fatal(err)
	}
	if _, err := refs.Set(t.Context(), castore.Tag{Name: "t", Root: root.Node()}, castore.ExpectAbsent()); err != nil {
		t.Fatal(err)
	}
}

func TestOpenWithoutRefs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("blobservices:\n  default: {type: memory}\ndirectoryservices:\n  default: {type: memory}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := compose.Open(t.Context(), compose.DefaultRegistry(), compose.Options{ConfigFile: p})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Refs(t.Context()); !errors.Is(err, castore.ErrUnsupported) {
		t.Fatalf("Refs without a ref service: %v", err)
	}
	s, err = compose.Open(t.Context(), compose.DefaultRegistry(), compose.Options{
		BlobServiceAddr: "memory://", DirectoryServiceAddr: "memory://", RefServiceAddr: "memory://",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Refs(t.Context()); err != nil {
		t.Fatal(err)
	}
}
