package dirstore_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore/dirstore"
)

// Issue 19, case 6: a store another process holds (here another open of
// the file) is "in use by another process", not bolt's bare "timeout".
func TestEmbeddedInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "directories.db")
	e, err := dirstore.OpenEmbedded(path)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = dirstore.OpenEmbedded(path)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v, want an error saying the store at %s is in use", err, path)
	}
}
