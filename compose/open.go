package compose

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/castore-go/castore"
)

// Options say where a program's two services come from: a config file, or
// one address each.
type Options struct {
	// ConfigFile, if set, is a YAML composition whose services named
	// "default" are used. It excludes the two addresses.
	ConfigFile string
	// BlobServiceAddr and DirectoryServiceAddr are service URLs (see
	// SpecFromURL).
	BlobServiceAddr      string
	DirectoryServiceAddr string
	// RefServiceAddr is the tag service's URL (memory://, bolt:///abs,
	// objectstore+..., grpc+...); empty means DefaultRefAddr of
	// DirectoryServiceAddr. A config file names it refservices.default,
	// which is optional.
	RefServiceAddr string
	// BackendTimeout bounds every object store call; see
	// Composition.BackendTimeout.
	BackendTimeout time.Duration
}

// Services are the two services a program uses, and the composition that
// owns them (with the tag service, built when Refs asks for it). Close
// releases them.
type Services struct {
	Blobs       castore.BlobService
	Directories castore.DirectoryService
	*Composition
}

// DefaultName is the service a config file must define for each kind.
const DefaultName = "default"

// Open builds the blob and directory services that opts describe.
func Open(ctx context.Context, reg *Registry, opts Options) (*Services, error) {
	c := New(reg)
	c.BackendTimeout = opts.BackendTimeout
	if opts.ConfigFile != "" {
		if opts.BlobServiceAddr != "" || opts.DirectoryServiceAddr != "" || opts.RefServiceAddr != "" {
			return nil, errors.New("a config file and service addresses exclude each other: give one or the other")
		}
		if err := c.LoadFile(opts.ConfigFile); err != nil {
			return nil, err
		}
		for _, k := range []Kind{Blobs, Directories} {
			if !c.Has(k, DefaultName) {
				return nil, fmt.Errorf("config %s: %s.%s is not defined; it is the service that gets used", opts.ConfigFile, k, DefaultName)
			}
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("config %s: %w", opts.ConfigFile, err)
		}
	} else {
		for _, a := range []struct {
			k    Kind
			addr string
			flag string
		}{{Blobs, opts.BlobServiceAddr, "blob service"}, {Directories, opts.DirectoryServiceAddr, "directory service"}} {
			if a.addr == "" {
				return nil, fmt.Errorf("no %s address given", a.flag)
			}
			typ, params, err := SpecFromURL(a.k, a.addr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", a.flag, err)
			}
			if err := c.Add(a.k, DefaultName, typ, params); err != nil {
				return nil, fmt.Errorf("%s: %w", a.flag, err)
			}
		}
		refs := opts.RefServiceAddr
		if refs == "" {
			refs = DefaultRefAddr(opts.DirectoryServiceAddr)
		}
		if refs != "" {
			typ, params, err := SpecFromURL(Refs, refs)
			if err != nil {
				return nil, fmt.Errorf("ref service: %w", err)
			}
			if err := c.Add(Refs, DefaultName, typ, params); err != nil {
				return nil, fmt.Errorf("ref service: %w", err)
			}
		}
	}
	blobs, err := c.BlobService(ctx, DefaultName)
	if err != nil {
		c.Close()
		return nil, err
	}
	dirs, err := c.DirectoryService(ctx, DefaultName)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &Services{Blobs: blobs, Directories: dirs, Composition: c}, nil
}
