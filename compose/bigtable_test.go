package compose_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/internal/testenv"
)

// TestBigtableURL opens a bigtable:// directory service from a URL and from
// a config file against the emulator (BIGTABLE_EMULATOR_HOST), and round
// trips a directory through each.
func TestBigtableURL(t *testing.T) {
	emu := testenv.BigtableEmulator(t)
	emu.SetEnv(t)
	emu.CreateTable(t.Context(), t, "dirs", "cf")
	ctx := t.Context()
	dir, err := castore.NewDirectory(castore.Entry{Name: "a", Node: castore.SymlinkNode("/x")})
	if err != nil {
		t.Fatal(err)
	}

	url := fmt.Sprintf("bigtable://%s?project_id=%s&table_name=dirs&family_name=cf&timeout=2s", emu.Instance, emu.Project)
	s, err := compose.Open(ctx, compose.DefaultRegistry(), compose.Options{BlobServiceAddr: "memory://", DirectoryServiceAddr: url})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Directories.Put(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := filepath.Join(t.TempDir(), "castore.yaml")
	yaml := fmt.Sprintf(`
blobservices:
  default: {type: memory}
directoryservices:
  default:
    type: bigtable
    project_id: %s
    instance_name: %s
    table_name: dirs
    family_name: cf
    channel_size: 2
    timeout: 3s
`, emu.Project, emu.Instance)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = compose.Open(ctx, compose.DefaultRegistry(), compose.Options{ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Directories.Get(ctx, dir.Digest())
	if err != nil || !got.Equal(dir) {
		t.Fatalf("Get through the config file of what the URL put: %v", err)
	}

	// Missing required parameters are named.
	_, err = compose.Open(ctx, compose.DefaultRegistry(), compose.Options{BlobServiceAddr: "memory://", DirectoryServiceAddr: "bigtable://inst?project_id=p"})
	if err == nil || !strings.Contains(err.Error(), "table_name") || !strings.Contains(err.Error(), "family_name") {
		t.Errorf("bigtable URL without table and family: %v", err)
	}
}
