package castore_test

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The dependency rules of docs/design.md section 2. Packages are named
// relative to the module ("" is the root package); a pattern "x/..." is x
// and everything below it. Only non-test code is held to them: tests may
// import more (the conformance suites, internal/testenv, other stores).

const module = "github.com/castore-go/castore"

// layerRule is one row of the table: what a package may import of ours.
type layerRule struct {
	pkg   string   // a package, or a pattern "x/..."
	allow []string // packages or patterns it may import
	why   string
}

// layers is the allowed-imports table, first matching row wins. A package
// that matches no row is an error: a new package gets a row here and in
// docs/design.md.
var layers = []layerRule{
	{"", nil, "the model and contracts stand alone"},
	{"closure", []string{""}, "every layer may use the DAG algorithms"},
	{"castorepb", []string{""}, "the wire types and their conversions need only the model"},
	{"castorepb/snixpb", []string{"", "castorepb"}, "snix's names for the wire types convert through tvix's"},
	{"chunkfmt", []string{"", "castorepb"}, "the chunk format needs no store"},
	{"objectstore/...", []string{"", "objectstore/...", "internal/..."}, "object stores know no service"},
	{"chunkstore/blobtest", []string{"", "chunkfmt"}, "the blob suite tests any BlobService"},
	{"chunkstore", []string{"", "chunkfmt", "objectstore/..."}, "blobs on object stores"},
	{"dirstore/dirtest", []string{"", "closure"}, "the directory suite tests any DirectoryService"},
	{"dirstore", []string{"", "closure", "objectstore/..."}, "directories on object stores and files"},
	{"reftest", []string{""}, "the ref suite tests any RefService"},
	{"refstore", []string{"", "closure", "castorepb", "objectstore"}, "tags in memory, in a bolt file and on object stores"},
	{"bigtable", []string{"", "closure"}, "a DirectoryService of its own, not built on dirstore"},
	{"grpcapi", []string{"", "closure", "castorepb", "castorepb/snixpb", "chunkfmt", "internal/redact"}, "a gRPC client or server links no store"},
	{"ingest", []string{"", "closure"}, "importing and exporting need only the contracts"},
	{"ingest/statcache", []string{"", "ingest"}, "the import's stat cache is a local file beside the importer"},
	{"fusefront", []string{"", "closure"}, "the mount needs only the contracts"},
	{"httpfront", []string{"", "closure", "ingest"}, "the HTTP gateway needs only the contracts (and ingest's tar export)"},
	{"gc", []string{"", "chunkfmt", "objectstore"}, "garbage collection sees tags, directories and the object store's keys, no store type"},
	{"compose", []string{"", "closure", "castorepb", "chunkfmt", "objectstore/...", "chunkstore", "dirstore", "refstore", "bigtable", "grpcapi", "internal/..."}, "the one place that builds stacks of services"},
	{"cmd/castore", []string{"", "closure", "compose", "gc", "grpcapi", "ingest", "ingest/statcache", "fusefront", "httpfront", "internal/..."}, "the binary reaches stores only through compose (grpcapi for serving them)"},
	{"internal/...", nil, "test servers and helpers stand alone"},
	{"deploy", nil, "the deployment checks are tests only"},
	{"deploy/image", nil, "the container image check is a test only"},
}

// layerException is an import a row forbids, allowed from one file for a
// reason. It lapses with the file.
type layerException struct {
	file  string   // module-relative path of the importing file
	allow []string // packages or patterns
	why   string
}

// layerExceptions is empty: castore verify, the last one, reaches the
// stores through compose's Verify now.
var layerExceptions = []layerException{}

// testSupport are the packages written for tests. Non-test code imports
// them only from another of them (objectstore/storetest uses testenv).
var testSupport = []string{"chunkstore/blobtest", "dirstore/dirtest", "reftest", "objectstore/storetest", "internal/testenv", "internal/loadtest"}

// noCloud are the packages whose whole dependency closure must hold no
// cloud SDK, so that a gRPC client, a mount or an importer links none;
// cloudSDKs are the SDKs' import path prefixes.
var (
	noCloud   = []string{"", "closure", "castorepb", "castorepb/snixpb", "chunkfmt", "grpcapi", "ingest", "ingest/statcache", "fusefront", "httpfront"}
	cloudSDKs = []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go", "cloud.google.com/go/storage", "cloud.google.com/go/bigtable", "google.golang.org/api/"}
)

// pkgGraph is what the rules are checked on: the module's packages with
// the imports of ours of each non-test file, and every package's full
// dependency closure (import paths, ours and others).
type pkgGraph struct {
	files map[string]map[string][]string // package -> file (module-relative) -> imports (module-relative)
	deps  map[string][]string            // package -> go list's Deps
}

// matches reports whether package p is pattern pat.
func matches(pat, p string) bool {
	if dir, ok := strings.CutSuffix(pat, "/..."); ok {
		return p == dir || strings.HasPrefix(p, dir+"/")
	}
	return p == pat
}

func matchesAny(pats []string, p string) bool {
	return slices.ContainsFunc(pats, func(pat string) bool { return matches(pat, p) })
}

func show(p string) string {
	if p == "" {
		return "the root package"
	}
	return p
}

// layeringErrors checks g against the rules, with the exceptions given,
// and says what breaks which.
func layeringErrors(g pkgGraph, exceptions []layerException) []string {
	var errs []string
	for _, pkg := range sortedKeys(g.files) {
		i := slices.IndexFunc(layers, func(r layerRule) bool { return matches(r.pkg, pkg) })
		if i < 0 {
			errs = append(errs, fmt.Sprintf("%s has no row in the layering table (layering_test.go, docs/design.md section 2)", show(pkg)))
			continue
		}
		rule := layers[i]
		for _, file := range sortedKeys(g.files[pkg]) {
			for _, dep := range g.files[pkg][file] {
				switch {
				case dep == pkg:
				case matches("cmd/...", dep):
					errs = append(errs, fmt.Sprintf("%s imports %s (%s): nothing imports cmd", show(pkg), dep, file))
				case matchesAny(testSupport, dep) && !matchesAny(testSupport, pkg):
					errs = append(errs, fmt.Sprintf("%s imports %s (%s): only tests import test support", show(pkg), dep, file))
				case matchesAny(rule.allow, dep) || excepted(exceptions, file, dep):
				default:
					allowed := "nothing of ours"
					if len(rule.allow) > 0 {
						names := make([]string, len(rule.allow))
						for i, a := range rule.allow {
							names[i] = show(a)
						}
						allowed = "only " + strings.Join(names, ", ")
					}
					errs = append(errs, fmt.Sprintf("%s imports %s (%s): %s may import %s: %s", show(pkg), show(dep), file, show(pkg), allowed, rule.why))
				}
			}
		}
	}
	for _, pkg := range noCloud {
		var sdk []string
		for _, dep := range g.deps[pkg] {
			if slices.ContainsFunc(cloudSDKs, func(prefix string) bool { return strings.HasPrefix(dep, prefix) }) {
				sdk = append(sdk, dep)
			}
		}
		if len(sdk) > 0 {
			errs = append(errs, fmt.Sprintf("%s depends on %d cloud SDK packages (%s, ...): none may be under %s (go list -deps ./%s)", show(pkg), len(sdk), sdk[0], show(pkg), pkg))
		}
	}
	return errs
}

func excepted(exceptions []layerException, file, dep string) bool {
	return slices.ContainsFunc(exceptions, func(e layerException) bool {
		return e.file == file && matchesAny(e.allow, dep)
	})
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// loadGraph reads the module's graph with go list, and each non-test
// file's imports with go/parser, so that an exception holds for its file
// alone. Files excluded by build constraints count too.
func loadGraph(t *testing.T) pkgGraph {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Dir,GoFiles,CgoFiles,IgnoredGoFiles,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	rel := func(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }
	g := pkgGraph{files: map[string]map[string][]string{}, deps: map[string][]string{}}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	fset := token.NewFileSet()
	for {
		var p struct {
			ImportPath, Dir                   string
			GoFiles, CgoFiles, IgnoredGoFiles []string
			Deps                              []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list: %v", err)
		}
		pkg := rel(p.ImportPath)
		g.deps[pkg] = p.Deps
		g.files[pkg] = map[string][]string{}
		for _, name := range slices.Concat(p.GoFiles, p.CgoFiles, p.IgnoredGoFiles) {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			var imps []string
			for _, is := range f.Imports {
				imp, _ := strconv.Unquote(is.Path.Value)
				if imp == module || strings.HasPrefix(imp, module+"/") {
					imps = append(imps, rel(imp))
				}
			}
			g.files[pkg][filepath.ToSlash(filepath.Join(pkg, name))] = imps
		}
	}
	return g
}

// TestLayering holds the module to the dependency rules of
// docs/design.md section 2.
func TestLayering(t *testing.T) {
	g := loadGraph(t)
	for _, e := range layeringErrors(g, layerExceptions) {
		t.Error(e)
	}
	// Every row and exception names something that exists, so that a
	// rename does not leave a rule checking nothing.
	for _, r := range layers {
		if !slices.ContainsFunc(sortedKeys(g.files), func(p string) bool { return matches(r.pkg, p) }) {
			t.Errorf("layering table: no package %s", show(r.pkg))
		}
	}
	for _, p := range noCloud {
		if _, ok := g.deps[p]; !ok {
			t.Errorf("no package %s to check for cloud SDKs", show(p))
		}
	}
	for _, e := range layerExceptions {
		if _, ok := g.files[filepath.ToSlash(filepath.Dir(e.file))][e.file]; !ok {
			t.Logf("layering exception for %s: the file is gone; remove the exception (%s)", e.file, e.why)
		}
	}
}

// TestLayeringRules feeds layeringErrors graphs with one edge each, the
// forbidden edges the design names and some allowed ones, and checks that
// it refuses exactly the forbidden.
func TestLayeringRules(t *testing.T) {
	base := func() pkgGraph {
		g := pkgGraph{files: map[string]map[string][]string{}, deps: map[string][]string{}}
		for _, p := range []string{"", "closure", "castorepb", "chunkfmt", "objectstore", "objectstore/s3store", "objectstore/storetest",
			"chunkstore", "chunkstore/blobtest", "dirstore", "dirstore/dirtest", "bigtable", "grpcapi", "ingest", "fusefront", "httpfront",
			"compose", "cmd/castore", "internal/testenv", "internal/redact", "deploy"} {
			g.files[p] = map[string][]string{filepath.Join(p, "a.go"): nil}
		}
		return g
	}
	// An exception holds for its file alone, and for what it names.
	exceptions := []layerException{{"cmd/castore/cache.go", []string{"chunkstore", "objectstore/..."}, "a test's exception"}}
	if errs := layeringErrors(base(), exceptions); len(errs) > 0 {
		t.Fatalf("a graph with no edges: %q", errs)
	}
	for _, c := range []struct {
		pkg, dep string
		file     string // default pkg/a.go
		ok       bool
	}{
		// Forbidden: each would undo a part of the layering.
		{pkg: "", dep: "closure"},
		{pkg: "closure", dep: "dirstore"},
		{pkg: "castorepb", dep: "chunkfmt"},
		{pkg: "chunkfmt", dep: "chunkstore"},
		{pkg: "chunkfmt", dep: "objectstore"},
		{pkg: "chunkfmt", dep: "closure"},
		{pkg: "objectstore", dep: "chunkstore"},
		{pkg: "objectstore/s3store", dep: "dirstore"},
		{pkg: "objectstore/s3store", dep: "internal/testenv"},
		{pkg: "chunkstore", dep: "castorepb"},
		{pkg: "chunkstore", dep: "grpcapi"},
		{pkg: "chunkstore", dep: "dirstore"},
		{pkg: "chunkstore", dep: "chunkstore/blobtest"},
		{pkg: "dirstore", dep: "chunkstore"},
		{pkg: "bigtable", dep: "dirstore"},
		{pkg: "bigtable", dep: "objectstore"},
		{pkg: "grpcapi", dep: "chunkstore"},
		{pkg: "grpcapi", dep: "dirstore"},
		{pkg: "grpcapi", dep: "objectstore"},
		{pkg: "grpcapi", dep: "objectstore/s3store"},
		{pkg: "grpcapi", dep: "bigtable"},
		{pkg: "grpcapi", dep: "compose"},
		{pkg: "grpcapi", dep: "internal/testenv"},
		{pkg: "ingest", dep: "chunkstore"},
		{pkg: "ingest", dep: "grpcapi"},
		{pkg: "ingest", dep: "castorepb"},
		{pkg: "fusefront", dep: "dirstore"},
		{pkg: "fusefront", dep: "grpcapi"},
		{pkg: "fusefront", dep: "compose"},
		{pkg: "httpfront", dep: "grpcapi"},
		{pkg: "httpfront", dep: "chunkstore"},
		{pkg: "httpfront", dep: "compose"},
		{pkg: "compose", dep: "ingest"},
		{pkg: "compose", dep: "fusefront"},
		{pkg: "compose", dep: "cmd/castore"},
		{pkg: "compose", dep: "objectstore/storetest"},
		{pkg: "cmd/castore", dep: "chunkstore"},
		{pkg: "cmd/castore", dep: "dirstore"},
		{pkg: "cmd/castore", dep: "objectstore"},
		{pkg: "cmd/castore", dep: "objectstore/s3store"},
		{pkg: "cmd/castore", dep: "bigtable"},
		{pkg: "cmd/castore", dep: "chunkfmt"},
		{pkg: "cmd/castore", dep: "chunkstore/blobtest"},
		{pkg: "cmd/castore", dep: "chunkstore", file: "cmd/castore/tree.go"},
		{pkg: "internal/testenv", dep: "chunkstore"},
		{pkg: "dirstore/dirtest", dep: "dirstore"},
		{pkg: "chunkstore/blobtest", dep: "chunkstore"},
		// Allowed.
		{pkg: "closure", dep: "", ok: true},
		{pkg: "chunkfmt", dep: "castorepb", ok: true},
		{pkg: "objectstore/s3store", dep: "objectstore", ok: true},
		{pkg: "objectstore/storetest", dep: "internal/testenv", ok: true},
		{pkg: "chunkstore", dep: "objectstore/s3store", ok: true},
		{pkg: "dirstore", dep: "closure", ok: true},
		{pkg: "bigtable", dep: "closure", ok: true},
		{pkg: "grpcapi", dep: "chunkfmt", ok: true},
		{pkg: "grpcapi", dep: "internal/redact", ok: true},
		{pkg: "ingest", dep: "closure", ok: true},
		{pkg: "httpfront", dep: "ingest", ok: true},
		{pkg: "compose", dep: "objectstore/s3store", ok: true},
		{pkg: "compose", dep: "grpcapi", ok: true},
		{pkg: "cmd/castore", dep: "compose", ok: true},
		{pkg: "cmd/castore", dep: "grpcapi", ok: true},
		{pkg: "cmd/castore", dep: "closure", ok: true},
		{pkg: "cmd/castore", dep: "chunkstore", file: "cmd/castore/mount.go"},
		{pkg: "cmd/castore", dep: "chunkstore", file: "cmd/castore/cache.go", ok: true},
		{pkg: "cmd/castore", dep: "objectstore/packstore", file: "cmd/castore/cache.go", ok: true},
		{pkg: "cmd/castore", dep: "dirstore", file: "cmd/castore/cache.go"},
		{pkg: "cmd/castore", dep: "chunkstore/blobtest", file: "cmd/castore/cache.go"},
		{pkg: "cmd/castore", dep: "objectstore/packstore", file: "cmd/castore/mount.go"},
		{pkg: "cmd/castore", dep: "bigtable", file: "cmd/castore/mount.go"},
	} {
		file := c.file
		if file == "" {
			file = filepath.Join(c.pkg, "a.go")
		}
		t.Run(fmt.Sprintf("%s->%s", show(c.pkg), show(c.dep)), func(t *testing.T) {
			g := base()
			g.files[c.pkg][file] = []string{c.dep}
			errs := layeringErrors(g, exceptions)
			switch {
			case c.ok && len(errs) > 0:
				t.Errorf("%s (%s) importing %s is allowed, got %q", show(c.pkg), file, show(c.dep), errs)
			case !c.ok && len(errs) != 1:
				t.Errorf("%s (%s) importing %s is forbidden: want one error, got %q", show(c.pkg), file, show(c.dep), errs)
			}
		})
	}
	t.Run("unknown package", func(t *testing.T) {
		g := base()
		g.files["newpkg"] = map[string][]string{"newpkg/a.go": {""}}
		if errs := layeringErrors(g, exceptions); len(errs) != 1 {
			t.Errorf("a package with no row: want one error, got %q", errs)
		}
	})
	t.Run("nothing imports cmd", func(t *testing.T) {
		g := base()
		g.files["cmd/castore"]["cmd/castore/a.go"] = []string{"cmd/castore/sub"}
		if errs := layeringErrors(g, exceptions); len(errs) != 1 {
			t.Errorf("cmd/castore importing cmd/castore/sub: want one error, got %q", errs)
		}
	})
	for _, pkg := range noCloud {
		for _, sdk := range []string{"github.com/aws/aws-sdk-go-v2/service/s3", "cloud.google.com/go/storage", "cloud.google.com/go/bigtable"} {
			t.Run(fmt.Sprintf("%s depends on %s", show(pkg), sdk), func(t *testing.T) {
				g := base()
				g.deps[pkg] = []string{"context", sdk, "io"}
				if errs := layeringErrors(g, exceptions); len(errs) != 1 {
					t.Errorf("want one error, got %q", errs)
				}
			})
		}
	}
	t.Run("compose may depend on cloud SDKs", func(t *testing.T) {
		g := base()
		g.deps["compose"] = []string{"github.com/aws/aws-sdk-go-v2/service/s3", "cloud.google.com/go/storage"}
		if errs := layeringErrors(g, exceptions); len(errs) > 0 {
			t.Errorf("got %q", errs)
		}
	})
}
