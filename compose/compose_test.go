package compose_test

import (
	"context"
	"strings"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
)

// fakeBlobs is a stand-in service type; only its identity matters here.
type fakeBlobs struct {
	castore.BlobService
	name   string
	closed *[]string
}

func (f *fakeBlobs) Close() error { *f.closed = append(*f.closed, f.name); return nil }

type leafParams struct {
	Label string `yaml:"label"`
}

type pairParams struct {
	Near string `yaml:"near"`
	Far  string `yaml:"far"`
}

func (p *pairParams) Refs() []string { return []string{p.Near, p.Far} }

func testRegistry(closed *[]string) *compose.Registry {
	r := compose.NewRegistry()
	compose.RegisterBlobService(r, "leaf", func(ctx context.Context, c *compose.Composition, p *leafParams) (castore.BlobService, error) {
		return &fakeBlobs{name: p.Label, closed: closed}, nil
	})
	compose.RegisterBlobService(r, "pair", func(ctx context.Context, c *compose.Composition, p *pairParams) (castore.BlobService, error) {
		if _, err := c.BlobService(ctx, p.Near); err != nil {
			return nil, err
		}
		if _, err := c.BlobService(ctx, p.Far); err != nil {
			return nil, err
		}
		return &fakeBlobs{name: "pair", closed: closed}, nil
	})
	return r
}

func TestComposeBuildsReferencesOnce(t *testing.T) {
	var closed []string
	c := compose.New(testRegistry(&closed))
	err := c.Load([]byte(`
blobservices:
  a: {type: leaf, label: a}
  b: {type: leaf, label: b}
  default: {type: pair, near: a, far: b}
  other: {type: pair, near: a, far: default}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d1, err := c.BlobService(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := c.BlobService(ctx, "default")
	if d2.(*fakeBlobs).name != "pair" || d1 == d2 {
		t.Fatalf("wrong services: %v %v", d1, d2)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// a, b, default, other were each built once and closed newest first.
	if got := strings.Join(closed, ","); got != "pair,pair,b,a" {
		t.Fatalf("closed %s", got)
	}
}

func TestComposeErrorsNameTheProblem(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown top key", "blobservice: {}", "blobservice"},
		{"unknown type", "blobservices: {x: {type: floppy}}", `blobservices.x: unknown type "floppy" (one of: leaf, pair)`},
		{"missing type", "blobservices: {x: {label: q}}", "blobservices.x: the type key is missing"},
		{"unknown key", "blobservices: {x: {type: leaf, colour: red}}", "colour"},
		{"not a mapping", "blobservices: {x: 3}", "blobservices.x: want a mapping"},
		{"dangling", "blobservices: {x: {type: pair, near: a, far: nowhere}, a: {type: leaf}}", "blobservices.x refers to blobservices.nowhere, which is not defined"},
		{"cycle", "blobservices: {x: {type: pair, near: y, far: y}, y: {type: pair, near: x, far: x}}", "reference cycle: blobservices.x -> blobservices.y -> blobservices.x"},
		{"self cycle", "blobservices: {x: {type: pair, near: x, far: x}}", "reference cycle: blobservices.x -> blobservices.x"},
		{"bad yaml", "blobservices: [", "did not find"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := compose.New(testRegistry(new([]string)))
			err := c.Load([]byte(tc.yaml))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Build finds cycles and dangling references too, without Validate.
	c := compose.New(testRegistry(new([]string)))
	if err := c.Load([]byte("blobservices: {x: {type: pair, near: x, far: x}}")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BlobService(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("build of a cycle: %v", err)
	}
	if _, err := c.BlobService(context.Background(), "zz"); err == nil || !strings.Contains(err.Error(), "blobservices.zz is not defined") {
		t.Fatalf("build of an undefined name: %v", err)
	}
}
