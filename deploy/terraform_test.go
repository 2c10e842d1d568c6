package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/castore-go/castore/internal/testenv"
)

// TestTerraformFmt: every .tf file is as `terraform fmt` writes it.
func TestTerraformFmt(t *testing.T) {
	tf := testenv.Tool(t, "terraform")
	dir := filepath.Join(testenv.RepoRoot(t), "terraform")
	cmd := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", dir)
	// No provider plugins or CLI config are needed, or used, by fmt.
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null", "CHECKPOINT_DISABLE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("terraform fmt -check: %v (run `bin/terraform fmt -recursive terraform`):\n%s", err, out)
	}
}

// TestTerraformReferences parses every module under terraform/ and checks
// its references and module calls (what `terraform validate` would, short
// of the provider schemas, which need `terraform init`).
func TestTerraformReferences(t *testing.T) {
	root := filepath.Join(testenv.RepoRoot(t), "terraform")
	dirs := moduleDirs(t, root)
	for _, want := range []string{"aws", "gcp", "examples/aws", "examples/gcp"} {
		if !slices.Contains(dirs, filepath.Join(root, want)) {
			t.Errorf("terraform/%s: no .tf files", want)
		}
	}
	for _, dir := range dirs {
		rel, _ := filepath.Rel(root, dir)
		t.Run(rel, func(t *testing.T) {
			for _, p := range checkModule(dir) {
				t.Error(p)
			}
		})
	}
}

// TestTerraformChecker: the checker finds each kind of mistake it is for.
func TestTerraformChecker(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, src := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	const child = `
variable "name" { type = string }
variable "size" {
  type    = number
  default = 1
}
output "id" { value = var.name }
`
	cases := []struct {
		name  string
		files map[string]string
		want  []string // substrings of problems, in any order; none means clean
	}{
		{"clean", map[string]string{
			"main.tf": `
terraform {
  required_providers {
    x = { source = "example/x" }
  }
}
provider "x" {}
variable "a" { type = string }
locals { b = "${var.a}-x" }
resource "x_thing" "t" {
  name = local.b
  dynamic "rule" {
    for_each = [1, 2]
    content { n = rule.value + count.index }
  }
  tags = { for k, v in { a = 1 } : k => v }
}
data "x_src" "d" { id = x_thing.t.id }
module "m" {
  source = "./child"
  name   = data.x_src.d.id
}
output "o" { value = [module.m.id, path.module, terraform.workspace] }
`,
			"child/main.tf": child,
		}, nil},
		{"undeclared variable", map[string]string{
			"main.tf": `output "o" { value = var.nope }`,
		}, []string{`var.nope is not declared`}},
		{"undeclared local", map[string]string{
			"main.tf": `output "o" { value = local.nope }`,
		}, []string{`local.nope is not declared`}},
		{"provider not pinned", map[string]string{
			"main.tf": `
terraform {
  required_providers {
    x = { source = "example/x" }
  }
}
resource "y_thing" "t" {}
provider "z" {}
`,
		}, []string{`provider "y" is not pinned`, `provider "z" is not pinned`}},
		{"undeclared resource and data", map[string]string{
			"main.tf": `output "o" { value = [x_thing.t.id, data.x_src.d.id] }`,
		}, []string{`x_thing.t is not declared`, `data.x_src.d is not declared`}},
		{"unknown module input, missing required input, unknown output", map[string]string{
			"main.tf": `
module "m" {
  source = "./child"
  sise   = 2
}
output "o" { value = module.m.nope }
`,
			"child/main.tf": child,
		}, []string{`module "m": input "sise" is not a variable of ./child`, `module "m": required input "name" is not given`, `module.m.nope: ./child has no output "nope"`}},
		{"undeclared module", map[string]string{
			"main.tf": `output "o" { value = module.nope.id }`,
		}, []string{`module.nope is not declared`}},
		{"syntax error", map[string]string{
			"main.tf": `variable "a" {`,
		}, []string{`main.tf`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := write(t, c.files)
			got := checkModule(dir)
			if len(c.want) == 0 && len(got) > 0 {
				t.Fatalf("problems in a clean module: %q", got)
			}
			if len(c.want) > 0 && len(got) == 0 {
				t.Fatalf("no problem found, want %q", c.want)
			}
			for _, w := range c.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no problem mentions %q; got %q", w, got)
				}
			}
		})
	}
}

// moduleDirs lists the directories under root that hold .tf files.
func moduleDirs(t *testing.T, root string) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".tf") {
			seen[filepath.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for d := range seen {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

// tfModule is what a module directory declares.
type tfModule struct {
	dir       string
	bodies    []*hclsyntax.Body
	variables map[string]bool // name -> has a default
	locals    map[string]bool
	outputs   map[string]bool
	resources map[string]bool // TYPE.NAME
	data      map[string]bool // TYPE.NAME
	modules   map[string]*hclsyntax.Block
	// providers pinned in terraform { required_providers { ... } }
	providers map[string]bool
	// uses: provider local names that resources, data sources and
	// provider blocks use, with where.
	uses map[string]hcl.Range
}

// loadModule parses every .tf file of dir; parse errors are problems.
func loadModule(dir string) (*tfModule, []string) {
	m := &tfModule{dir: dir, variables: map[string]bool{}, locals: map[string]bool{}, outputs: map[string]bool{},
		resources: map[string]bool{}, data: map[string]bool{}, modules: map[string]*hclsyntax.Block{},
		providers: map[string]bool{}, uses: map[string]hcl.Range{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, []string{err.Error()}
	}
	if len(files) == 0 {
		return nil, []string{fmt.Sprintf("%s: no .tf files", dir)}
	}
	var problems []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		file, diags := hclsyntax.ParseConfig(src, f, hcl.Pos{Line: 1, Column: 1})
		if diags.HasErrors() {
			problems = append(problems, diags.Error())
			continue
		}
		body := file.Body.(*hclsyntax.Body)
		m.bodies = append(m.bodies, body)
		for _, b := range body.Blocks {
			label := func(i int) string {
				if i < len(b.Labels) {
					return b.Labels[i]
				}
				problems = append(problems, fmt.Sprintf("%s: %s block needs %d labels", b.Range(), b.Type, i+1))
				return ""
			}
			switch b.Type {
			case "variable":
				_, hasDefault := b.Body.Attributes["default"]
				m.variables[label(0)] = hasDefault
			case "locals":
				for name := range b.Body.Attributes {
					m.locals[name] = true
				}
			case "output":
				m.outputs[label(0)] = true
			case "resource":
				m.resources[label(0)+"."+label(1)] = true
				m.use(b, providerOf(b, label(0)))
			case "data":
				m.data[label(0)+"."+label(1)] = true
				m.use(b, providerOf(b, label(0)))
			case "module":
				m.modules[label(0)] = b
			case "provider":
				m.use(b, label(0))
			case "terraform":
				for _, rp := range b.Body.Blocks {
					if rp.Type == "required_providers" {
						for name := range rp.Body.Attributes {
							m.providers[name] = true
						}
					}
				}
			case "moved", "import", "check":
			default:
				problems = append(problems, fmt.Sprintf("%s: unknown top-level block %q", b.DefRange(), b.Type))
			}
		}
	}
	return m, problems
}

func (m *tfModule) use(b *hclsyntax.Block, provider string) {
	if _, seen := m.uses[provider]; !seen {
		m.uses[provider] = b.DefRange()
	}
}

// providerOf is the provider local name of a resource or data block: its
// provider argument (aws.east -> aws), else its type's prefix (aws_s3_bucket -> aws).
func providerOf(b *hclsyntax.Block, typ string) string {
	if a, ok := b.Body.Attributes["provider"]; ok {
		if tr, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() {
			return tr.RootName()
		}
	}
	p, _, _ := strings.Cut(typ, "_")
	return p
}

// moduleMeta are the arguments of a module block that are not inputs.
var moduleMeta = map[string]bool{"source": true, "version": true, "providers": true, "count": true, "for_each": true, "depends_on": true}

// checkModule returns the problems of the module in dir: references to
// undeclared variables, locals, resources, data sources, modules and
// module outputs; module inputs that are not variables of the module;
// required module inputs not given.
func checkModule(dir string) []string {
	m, problems := loadModule(dir)
	if m == nil {
		return problems
	}
	children := map[string]*tfModule{} // module name -> loaded local module
	for name, b := range m.modules {
		src, ok := literalString(b.Body.Attributes["source"])
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: module %q: source must be a literal string", b.DefRange(), name))
			continue
		}
		if !strings.HasPrefix(src, "./") && !strings.HasPrefix(src, "../") {
			continue // a registry module: its inputs are not known here
		}
		child, cp := loadModule(filepath.Join(dir, src))
		if child == nil {
			problems = append(problems, fmt.Sprintf("%s: module %q: %s", b.DefRange(), name, strings.Join(cp, "; ")))
			continue
		}
		children[name] = child
		for attr := range b.Body.Attributes {
			if moduleMeta[attr] {
				continue
			}
			if _, ok := child.variables[attr]; !ok {
				problems = append(problems, fmt.Sprintf("%s: module %q: input %q is not a variable of %s", b.Body.Attributes[attr].SrcRange, name, attr, src))
			}
		}
		for v, hasDefault := range child.variables {
			if _, given := b.Body.Attributes[v]; !given && !hasDefault {
				problems = append(problems, fmt.Sprintf("%s: module %q: required input %q is not given", b.DefRange(), name, v))
			}
		}
		for _, nb := range b.Body.Blocks {
			problems = append(problems, fmt.Sprintf("%s: module %q: unexpected block %q", nb.DefRange(), name, nb.Type))
		}
	}
	for _, body := range m.bodies {
		problems = append(problems, m.checkBody(body, nil, children)...)
	}
	for p, where := range m.uses {
		if !m.providers[p] {
			problems = append(problems, fmt.Sprintf("%s: provider %q is not pinned in terraform { required_providers }", where, p))
		}
	}
	sort.Strings(problems)
	return problems
}

// checkBody checks the references of every expression in body; iterators
// are the names dynamic blocks bind around it.
func (m *tfModule) checkBody(body *hclsyntax.Body, iterators []string, children map[string]*tfModule) []string {
	var problems []string
	for name, attr := range body.Attributes {
		if name == "provider" || name == "providers" {
			continue // provider references (aws.east), not values
		}
		for _, tr := range attr.Expr.Variables() {
			if p := m.checkTraversal(tr, iterators, children); p != "" {
				problems = append(problems, fmt.Sprintf("%s: %s", tr.SourceRange(), p))
			}
		}
	}
	for _, b := range body.Blocks {
		inner := iterators
		switch b.Type {
		case "dynamic":
			it := b.Labels[0]
			if a, ok := b.Body.Attributes["iterator"]; ok {
				if tr, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() {
					it = tr.RootName()
				}
			}
			inner = append(slices.Clone(iterators), it)
		case "lifecycle":
			// ignore_changes and replace_triggered_by name attributes, not values.
			problems = append(problems, m.checkBody(without(b.Body, "ignore_changes", "replace_triggered_by"), inner, children)...)
			continue
		case "variable":
			// type is a type constraint (string, map(string)), not a value.
			problems = append(problems, m.checkBody(without(b.Body, "type"), inner, children)...)
			continue
		}
		problems = append(problems, m.checkBody(b.Body, inner, children)...)
	}
	return problems
}

func (m *tfModule) checkTraversal(tr hcl.Traversal, iterators []string, children map[string]*tfModule) string {
	root := tr.RootName()
	step := func(i int) string {
		if i < len(tr) {
			if a, ok := tr[i].(hcl.TraverseAttr); ok {
				return a.Name
			}
		}
		return ""
	}
	switch root {
	case "path", "terraform", "count", "each", "self":
		return ""
	case "var":
		if _, ok := m.variables[step(1)]; !ok {
			return fmt.Sprintf("var.%s is not declared", step(1))
		}
	case "local":
		if !m.locals[step(1)] {
			return fmt.Sprintf("local.%s is not declared", step(1))
		}
	case "data":
		if !m.data[step(1)+"."+step(2)] {
			return fmt.Sprintf("data.%s.%s is not declared", step(1), step(2))
		}
	case "module":
		name := step(1)
		b, ok := m.modules[name]
		if !ok {
			return fmt.Sprintf("module.%s is not declared", name)
		}
		child := children[name]
		if out := step(2); child != nil && out != "" && !child.outputs[out] {
			src, _ := literalString(b.Body.Attributes["source"])
			return fmt.Sprintf("module.%s.%s: %s has no output %q", name, out, src, out)
		}
	default:
		if slices.Contains(iterators, root) {
			return ""
		}
		if !m.resources[root+"."+step(1)] {
			return fmt.Sprintf("%s.%s is not declared", root, step(1))
		}
	}
	return ""
}

// without returns a copy of body without the named attributes.
func without(body *hclsyntax.Body, names ...string) *hclsyntax.Body {
	c := *body
	c.Attributes = hclsyntax.Attributes{}
	for n, a := range body.Attributes {
		if !slices.Contains(names, n) {
			c.Attributes[n] = a
		}
	}
	return &c
}

func literalString(a *hclsyntax.Attribute) (string, bool) {
	if a == nil {
		return "", false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.Type().Equals(ctyString) || v.IsNull() {
		return "", false
	}
	return v.AsString(), true
}

var ctyString = cty.String
