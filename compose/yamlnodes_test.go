package compose_test

import (
	"context"
	"strings"
	"testing"

	"github.com/castore-go/castore/compose"
)

// Issue 19, case 6: config errors give the file's line numbers (not the
// service entry's), an unknown top-level key is named plainly (no Go
// type), and YAML anchors, aliases and merge keys work.
func TestConfigYAML(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown top key", "blobservices: {}\nblobservice: {}\n", `line 2: unknown top-level key "blobservice" (want blobservices, directoryservices and refservices)`},
		{"unknown key, its line in the file", "blobservices:\n  a:\n    type: leaf\n    label: a\n  b:\n    type: leaf\n\n    colour: red\n", `blobservices.b (type leaf): line 8: unknown key "colour" (want one of: label)`},
		{"bad value, its line in the file", "blobservices:\n  a:\n    type: leaf\n  b:\n    type: leaf\n    label: [1, 2]\n", "line 6"},
		{"missing type, its line", "blobservices:\n  a:\n    type: leaf\n  b:\n    label: q\n", "line 5: blobservices.b: the type key is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := compose.New(testRegistry(new([]string))).Load([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "struct") {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	c := compose.New(testRegistry(new([]string)))
	err := c.Load([]byte(`
blobservices:
  base: &leaf {type: leaf, label: shared}
  copy: *leaf
  merged:
    <<: *leaf
    label: own
  pairs: &pair {type: pair, near: base, far: copy}
  default:
    <<: [*pair]
    far: merged
`))
	if err != nil {
		t.Fatalf("anchors, aliases and merge keys: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"copy", "merged", "default"} {
		if _, err := c.BlobService(context.Background(), name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
