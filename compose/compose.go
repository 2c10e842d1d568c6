package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/castore-go/castore"
)

// Kind is the kind of service a spec builds.
type Kind string

const (
	Blobs       Kind = "blobservices"
	Directories Kind = "directoryservices"
	Refs        Kind = "refservices"
)

// kinds are the kinds of service, in the order a configuration names them.
var kinds = []Kind{Blobs, Directories, Refs}

// builder decodes a spec's parameters and builds the service.
type builder struct {
	decode func(pairs []pair) (any, error)
	build  func(ctx context.Context, c *Composition, params any) (any, error)
}

// Registry maps service types to their builders, per kind.
type Registry struct {
	types map[Kind]map[string]builder
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{types: map[Kind]map[string]builder{Blobs: {}, Directories: {}, Refs: {}}}
}

// Types lists the registered type names of a kind, sorted.
func (r *Registry) Types(k Kind) []string {
	var out []string
	for t := range r.types[k] {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func register[P, S any](r *Registry, k Kind, typ string, build func(ctx context.Context, c *Composition, p *P) (S, error)) {
	if _, dup := r.types[k][typ]; dup {
		panic(fmt.Sprintf("compose: %s type %q registered twice", k, typ))
	}
	r.types[k][typ] = builder{
		decode: func(pairs []pair) (any, error) {
			p := new(P)
			if err := decodeParams(pairs, p); err != nil {
				return nil, err
			}
			return p, nil
		},
		build: func(ctx context.Context, c *Composition, params any) (any, error) {
			return build(ctx, c, params.(*P))
		},
	}
}

// RegisterBlobService adds a blob service type. P is its parameter struct,
// decoded strictly from the spec's keys other than "type".
func RegisterBlobService[P any](r *Registry, typ string, build func(ctx context.Context, c *Composition, p *P) (castore.BlobService, error)) {
	register(r, Blobs, typ, build)
}

// RegisterDirectoryService adds a directory service type.
func RegisterDirectoryService[P any](r *Registry, typ string, build func(ctx context.Context, c *Composition, p *P) (castore.DirectoryService, error)) {
	register(r, Directories, typ, build)
}

// spec is one named service in a configuration.
type spec struct {
	typ    string
	params any
}

// Composition holds service specs and builds them on demand, each once.
// Close it to release what the services hold (files, connections).
type Composition struct {
	reg      *Registry
	specs    map[Kind]map[string]spec
	built    map[Kind]map[string]any
	building []string // "kind.name" being built, for cycle detection
	closers  []io.Closer

	// BackendTimeout bounds every object store call of the services built
	// (see objectstore.WithDeadline); zero means DefaultBackendTimeout,
	// negative means no bound.
	BackendTimeout time.Duration
}

// DefaultBackendTimeout bounds one object store call (a chunk, an index,
// a bundle) unless configured.
const DefaultBackendTimeout = time.Minute

func (c *Composition) backendTimeout() time.Duration {
	if c.BackendTimeout == 0 {
		return DefaultBackendTimeout
	}
	return c.BackendTimeout
}

// New returns an empty composition over reg.
func New(reg *Registry) *Composition {
	return &Composition{
		reg:   reg,
		specs: map[Kind]map[string]spec{Blobs: {}, Directories: {}, Refs: {}},
		built: map[Kind]map[string]any{Blobs: {}, Directories: {}, Refs: {}},
	}
}

// LoadFile reads a YAML configuration file into the composition.
func (c *Composition) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Load(b); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Load parses a YAML configuration. Every spec is decoded and checked here
// (unknown keys and types); references are checked by Validate and Build.
func (c *Composition) Load(b []byte) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return cleanYAMLError(err)
	}
	if resolve(&doc) == nil {
		return nil // an empty file
	}
	top, err := mappingPairs(&doc)
	if err != nil {
		return fmt.Errorf("line %d: want a mapping of blobservices, directoryservices and refservices", resolve(&doc).Line)
	}
	for _, kv := range top {
		k := Kind(kv.key.Value)
		if !slices.Contains(kinds, k) {
			return fmt.Errorf("line %d: unknown top-level key %q (want blobservices, directoryservices and refservices)", kv.key.Line, kv.key.Value)
		}
		if v := resolve(kv.val); v == nil || v.Tag == "!!null" {
			continue
		}
		services, err := mappingPairs(kv.val)
		if err != nil {
			return fmt.Errorf("line %d: %s: want a mapping of service names", kv.val.Line, k)
		}
		for _, s := range services {
			if err := c.addNode(k, s.key.Value, s.val); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Composition) addNode(k Kind, name string, node *yaml.Node) error {
	where := fmt.Sprintf("%s.%s", k, name)
	pairs, err := mappingPairs(node)
	if err != nil {
		return fmt.Errorf("line %d: %s: want a mapping with a type key", node.Line, where)
	}
	typ := ""
	var rest []pair
	for _, kv := range pairs {
		if kv.key.Value == "type" {
			typ = resolve(kv.val).Value
			continue
		}
		rest = append(rest, kv)
	}
	if typ == "" {
		return fmt.Errorf("line %d: %s: the type key is missing (one of: %s)", node.Line, where, strings.Join(c.reg.Types(k), ", "))
	}
	b, ok := c.reg.types[k][typ]
	if !ok {
		return fmt.Errorf("line %d: %s: unknown type %q (one of: %s)", node.Line, where, typ, strings.Join(c.reg.Types(k), ", "))
	}
	params, err := b.decode(rest)
	if err != nil {
		return fmt.Errorf("%s (type %s): %w", where, typ, err)
	}
	if _, dup := c.specs[k][name]; dup {
		return fmt.Errorf("line %d: %s: defined twice", node.Line, where)
	}
	c.specs[k][name] = spec{typ: typ, params: params}
	return nil
}

// Add defines a service from a type and its parameters (a struct of the
// type's parameter type, or nil for none).
func (c *Composition) Add(k Kind, name, typ string, params any) error {
	b, ok := c.reg.types[k][typ]
	if !ok {
		return fmt.Errorf("%s.%s: unknown type %q (one of: %s)", k, name, typ, strings.Join(c.reg.Types(k), ", "))
	}
	if params == nil {
		var err error
		if params, err = b.decode(nil); err != nil {
			return err
		}
	}
	if _, dup := c.specs[k][name]; dup {
		return fmt.Errorf("%s.%s: defined twice", k, name)
	}
	c.specs[k][name] = spec{typ: typ, params: params}
	return nil
}

// Has reports whether a service of kind k is named name.
func (c *Composition) Has(k Kind, name string) bool {
	_, ok := c.specs[k][name]
	return ok
}

// BlobService builds (once) and returns the blob service called name.
func (c *Composition) BlobService(ctx context.Context, name string) (castore.BlobService, error) {
	s, err := c.build(ctx, Blobs, name)
	if err != nil {
		return nil, err
	}
	return s.(castore.BlobService), nil
}

// DirectoryService builds (once) and returns the directory service called
// name.
func (c *Composition) DirectoryService(ctx context.Context, name string) (castore.DirectoryService, error) {
	s, err := c.build(ctx, Directories, name)
	if err != nil {
		return nil, err
	}
	return s.(castore.DirectoryService), nil
}

func (c *Composition) build(ctx context.Context, k Kind, name string) (any, error) {
	if s, ok := c.built[k][name]; ok {
		return s, nil
	}
	key := fmt.Sprintf("%s.%s", k, name)
	if i := slices.Index(c.building, key); i >= 0 {
		return nil, fmt.Errorf("reference cycle: %s -> %s", strings.Join(c.building[i:], " -> "), key)
	}
	sp, ok := c.specs[k][name]
	if !ok {
		if len(c.building) > 0 {
			return nil, fmt.Errorf("%s refers to %s, which is not defined", c.building[len(c.building)-1], key)
		}
		return nil, fmt.Errorf("%s is not defined", key)
	}
	c.building = append(c.building, key)
	defer func() { c.building = c.building[:len(c.building)-1] }()
	s, err := c.reg.types[k][sp.typ].build(ctx, c, sp.params)
	if err != nil {
		if len(c.building) > 1 {
			return nil, err // the outermost build adds the context once
		}
		return nil, fmt.Errorf("build %s (type %s): %w", key, sp.typ, err)
	}
	if s == nil {
		return nil, fmt.Errorf("build %s (type %s): the builder returned no service", key, sp.typ)
	}
	if cl, ok := s.(io.Closer); ok {
		c.closers = append(c.closers, cl)
	}
	c.built[k][name] = s
	return s, nil
}

// Validate builds nothing but follows every reference of every spec, so a
// configuration's dangling references and cycles are found before use. It
// relies on builders resolving references through Ref.
func (c *Composition) Validate() error {
	for _, k := range kinds {
		names := make([]string, 0, len(c.specs[k]))
		for n := range c.specs[k] {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if err := c.checkRefs(k, n, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// Referrer is implemented by parameter structs that name other services.
type Referrer interface {
	Refs() []string
}

func (c *Composition) checkRefs(k Kind, name string, path []string) error {
	key := fmt.Sprintf("%s.%s", k, name)
	if i := slices.Index(path, key); i >= 0 {
		return fmt.Errorf("reference cycle: %s -> %s", strings.Join(path[i:], " -> "), key)
	}
	sp, ok := c.specs[k][name]
	if !ok {
		return fmt.Errorf("%s refers to %s, which is not defined", path[len(path)-1], key)
	}
	r, ok := sp.params.(Referrer)
	if !ok {
		return nil
	}
	for _, ref := range r.Refs() {
		if err := c.checkRefs(k, ref, append(path, key)); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every built service that holds resources, newest first.
func (c *Composition) Close() error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i].Close())
	}
	c.closers = nil
	return errors.Join(errs...)
}

// cleanYAMLError drops yaml.v3's "yaml: unmarshal errors:" prefix.
func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	return errors.New(strings.TrimSpace(msg))
}
