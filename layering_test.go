package castore_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering holds the dependency direction of docs/design.md section 2:
// cmd -> compose -> {grpcapi, bigtable, chunkstore, dirstore, objectstore}
// -> castore. The root package imports none of ours, closure imports only
// the root, objectstore imports no service package, ingest and fusefront
// need only the root contracts (with closure, and the wire types), and
// only cmd imports compose.
func TestLayering(t *testing.T) {
	const mod = "github.com/castore-go/castore"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	rel := func(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, mod), "/") }
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg := rel(fields[0])
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := rel(imp)
			var bad string
			switch {
			case pkg == "" && dep != "":
				bad = "the root package imports nothing of ours"
			case under(pkg, "closure") && dep != "":
				bad = "closure imports only the root package"
			case under(pkg, "objectstore") && !under(dep, "objectstore") && dep != "" && !under(dep, "internal"):
				bad = "objectstore imports only the root package"
			case under(dep, "compose") && !under(pkg, "cmd") && !under(pkg, "compose"):
				bad = "only cmd imports compose"
			case under(dep, "cmd"):
				bad = "nothing imports cmd"
			case (under(pkg, "ingest") || under(pkg, "fusefront")) && !(dep == "" || under(dep, pkg) || dep == "closure" || under(dep, "internal") || under(dep, "castorepb") || strings.HasSuffix(dep, "test")):
				bad = pkg + " needs only the root contracts"
			}
			if bad != "" {
				t.Errorf("%s imports %s: %s", fields[0], imp, bad)
			}
		}
	}
}
