package compose

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// A configuration is read as yaml.v3 nodes, not decoded through a Go
// struct: errors then give the file's own line numbers (not those of a
// service's entry marshalled again), name unknown keys plainly (not with
// a Go struct type), and anchors, aliases and merge keys (<<) work
// anywhere, as YAML has them.

// pair is one key and its value in a mapping.
type pair struct{ key, val *yaml.Node }

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return resolve(n.Content[0])
	}
	return n
}

// mappingPairs returns the pairs of mapping n, merge keys expanded (the
// mapping's own keys win over merged ones, and earlier merges over later
// ones, as in YAML's merge key type), or an error if n is no mapping.
func mappingPairs(n *yaml.Node) ([]pair, error) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a mapping")
	}
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			srcs := []*yaml.Node{v}
			if rv := resolve(v); rv != nil && rv.Kind == yaml.SequenceNode {
				srcs = rv.Content
			}
			for _, src := range srcs {
				ps, err := mappingPairs(src)
				if err != nil {
					return nil, fmt.Errorf("line %d: a merge key (<<) takes mappings", k.Line)
				}
				merged = append(merged, ps...)
			}
			continue
		}
		own = append(own, pair{k, v})
	}
	out := own
	seen := map[string]bool{}
	for _, p := range own {
		seen[p.key.Value] = true
	}
	for _, p := range merged {
		if !seen[p.key.Value] {
			seen[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// yamlKeys lists the keys a parameter struct takes (its yaml tags).
func yamlKeys(p any) []string {
	t := reflect.TypeOf(p)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, name)
	}
	slices.Sort(keys)
	return keys
}

// decodeParams decodes the pairs into p, refusing a key p does not take
// with its line.
func decodeParams(pairs []pair, p any) error {
	keys := yamlKeys(p)
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, kv := range pairs {
		if !slices.Contains(keys, kv.key.Value) {
			if len(keys) == 0 {
				return fmt.Errorf("line %d: unknown key %q (this type takes none)", kv.key.Line, kv.key.Value)
			}
			return fmt.Errorf("line %d: unknown key %q (want one of: %s)", kv.key.Line, kv.key.Value, strings.Join(keys, ", "))
		}
		m.Content = append(m.Content, kv.key, kv.val)
	}
	if len(m.Content) == 0 {
		return nil
	}
	if err := m.Decode(p); err != nil {
		return cleanYAMLError(err)
	}
	return nil
}
