package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 19, case 5: commands that only read create no store: a --data-dir
// or a local store URL that is not there is an error naming it, and
// nothing is made on the disk.
func TestReadingCommandsCreateNothing(t *testing.T) {
	c := newCLI(t)
	tmp := t.TempDir()
	root := "b3:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	noDir := filepath.Join(tmp, "no", "such", "x")
	for _, args := range [][]string{
		{"ls", "--data-dir", noDir, root},
		{"cat", "--data-dir", noDir, root + "/f"},
		{"stat", "--data-dir", noDir, root},
		{"export", "--data-dir", noDir, "--tar", root},
		{"stat", "--blob-service-addr", "objectstore+file://" + filepath.Join(tmp, "no", "such", "typo"), "--directory-service-addr", "memory://", root},
		{"ls", "--blob-service-addr", "memory://", "--directory-service-addr", "bolt://" + filepath.Join(tmp, "no", "dirs.db"), root},
	} {
		code, _, errs := c.run(nil, args...)
		if code == 0 || !strings.Contains(errs, filepath.Join(tmp, "no")) {
			t.Errorf("castore %s: exit %d, %q; want an error naming the path", strings.Join(args, " "), code, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "no")); !os.IsNotExist(err) {
		t.Errorf("a reading command made %s (%v)", filepath.Join(tmp, "no"), err)
	}
	// An empty data dir stays empty.
	empty := t.TempDir()
	if code, _, errs := c.run(nil, "ls", "--data-dir", empty, root); code == 0 || !strings.Contains(errs, empty) {
		t.Errorf("ls of an empty data dir: exit %d, %q", code, errs)
	}
	if es, _ := os.ReadDir(empty); len(es) != 0 {
		t.Errorf("ls made %d entries in an empty data dir", len(es))
	}
}
