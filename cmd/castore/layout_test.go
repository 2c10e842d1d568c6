package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A bucket written in snix's layout (chunks at chunk/b3/) reads back
// through castore configured for tvix's, and through a server so
// configured; and the other way round.
func TestChunkLayoutsThroughServe(t *testing.T) {
	for _, layouts := range [][2]string{{"snix", "tvix"}, {"tvix", "snix"}} {
		t.Run(layouts[0], func(t *testing.T) {
			c := newCLI(t)
			dir := fixtureTree(t)
			randomFile(t, filepath.Join(dir, "data"), 2<<20, 11)
			bucket := filepath.Join(t.TempDir(), "blobs")
			dirs := "bolt://" + filepath.Join(t.TempDir(), "d.db")
			write := "objectstore+file://" + bucket + "?chunk_layout=" + layouts[0]
			read := "objectstore+file://" + bucket + "?chunk_layout=" + layouts[1]
			root := strings.TrimSpace(c.ok("import", "--blob-service-addr", write, "--directory-service-addr", dirs, dir))
			written, other := map[string]string{"snix": "chunk", "tvix": "chunks"}[layouts[0]], map[string]string{"snix": "chunk", "tvix": "chunks"}[layouts[1]]
			if _, err := os.Stat(filepath.Join(bucket, written, "b3")); err != nil {
				t.Fatalf("no %s/b3 in the bucket: %v", written, err)
			}
			if _, err := os.Stat(filepath.Join(bucket, other)); err == nil {
				t.Fatalf("the bucket has %s/ too", other)
			}
			out := filepath.Join(t.TempDir(), "direct")
			c.ok("export", "--blob-service-addr", read, "--directory-service-addr", dirs, root, out)
			if b, err := exec.Command("diff", "-r", "--no-dereference", dir, out).CombinedOutput(); err != nil {
				t.Errorf("export configured for %s differs: %v\n%s", layouts[1], err, b)
			}
			addr := c.serve("--blob-service-addr", read, "--directory-service-addr", dirs)
			out = filepath.Join(t.TempDir(), "served")
			c.ok("export", "--blob-service-addr", addr, "--directory-service-addr", addr, root, out)
			if b, err := exec.Command("diff", "-r", "--no-dereference", dir, out).CombinedOutput(); err != nil {
				t.Errorf("export through a server configured for %s differs: %v\n%s", layouts[1], err, b)
			}
		})
	}
}
