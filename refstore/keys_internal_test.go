package refstore

import (
	"strings"
	"testing"

	"github.com/castore-go/castore/objectstore"
)

func TestObjectKeys(t *testing.T) {
	long := strings.Repeat("x", 512)
	for _, name := range []string{"a", "ci/main", "ci", "a/b/c", long, strings.Repeat("y", 200), strings.Repeat("y", 201), "p/" + strings.Repeat("z", 450) + "/q", strings.Repeat("ab/", 170) + "c"} {
		k := objectKey(name)
		if err := objectstore.CheckKey(k); err != nil {
			t.Errorf("key of %.30q: %v", name, err)
		}
		for c := range strings.SplitSeq(k, "/") {
			if len(c) > maxPiece+1 {
				t.Errorf("key of %.30q has a component of %d bytes", name, len(c))
			}
		}
		if got, ok := tagName(k); !ok || got != name {
			t.Errorf("tagName(objectKey(%.30q)) = %.30q, %v", name, got, ok)
		}
		for i := range len(name) + 1 {
			if p := name[:i]; !strings.HasPrefix(k, listPrefix(p)) {
				t.Errorf("key %.40q is not under the list prefix of %.40q", k, p)
			}
		}
	}
	for _, k := range []string{"refs/a", "refs/a/~/~", "refs/~", "refs/a~/~", "refs/a~/b/~", "other/a/~", "refs/" + strings.Repeat("x", 201) + "/~", "refs/a//~", "refs/../~"} {
		if name, ok := tagName(k); ok {
			t.Errorf("tagName(%.40q) = %.40q, want no tag", k, name)
		}
	}
}
