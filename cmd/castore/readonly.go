package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/castore-go/castore/compose"
)

// The commands that only read (ls, cat, stat, export, mount, http, and
// copy's source) open the stores their flags name without creating any:
// a --data-dir, or a local store's path, that is not there is an error
// naming it, not an empty store made in its place (a typo would leave
// directories behind, and answer "not found").

// openStoresToRead opens the stores a reading command's flags name.
func openStoresToRead(ctx context.Context, sf *storeFlags) (*compose.Services, error) {
	if sf.dataDir != "" && sf.config == "" {
		if fi, err := os.Stat(sf.dataDir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("data dir %s: no such directory (a command that only reads creates no store)", sf.dataDir)
		}
	}
	opts, err := sf.readOptions()
	if err != nil {
		return nil, err
	}
	for _, addr := range []string{opts.BlobServiceAddr, opts.DirectoryServiceAddr} {
		if err := localStoreExists(addr); err != nil {
			return nil, err
		}
	}
	return compose.Open(ctx, compose.DefaultRegistry(), opts)
}

// readOptions is clientOptions for a command that only reads: the
// embedded stores of --data-dir are named, not made.
func (s *storeFlags) readOptions() (compose.Options, error) {
	if s.dataDir == "" || s.config != "" {
		return s.clientOptions()
	}
	b, d, err := existingEmbeddedAddrs(s.dataDir)
	if err != nil {
		return compose.Options{}, err
	}
	flags := *s
	flags.dataDir = ""
	if flags.blobAddr == "" {
		flags.blobAddr = b
	}
	if flags.dirAddr == "" {
		flags.dirAddr = d
	}
	return flags.clientOptions()
}

// existingEmbeddedAddrs are embeddedAddrs without making anything: the
// blob store is the one the data dir has (an older one's blobs/, else
// packs/, there or not).
func existingEmbeddedAddrs(dataDir string) (blobs, dirs string, err error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", "", err
	}
	dirs = "bolt://" + filepath.Join(abs, "directories.db")
	if fi, err := os.Stat(filepath.Join(abs, "blobs")); err == nil && fi.IsDir() {
		return "objectstore+file://" + filepath.Join(abs, "blobs"), dirs, nil
	}
	return "objectstore+pack://" + filepath.Join(abs, "packs") + embeddedCompression, dirs, nil
}

// localStoreExists checks that a store URL on the local disk names
// something there: the directory of a file or pack object store, the
// file of an embedded directory store. Other URLs pass.
func localStoreExists(addr string) error {
	u, err := url.Parse(addr)
	if err != nil {
		return nil // compose says what is wrong with it
	}
	var what string
	switch u.Scheme {
	case "objectstore+file", "objectstore+pack":
		what = "object store"
	case "bolt":
		what = "directory store"
	default:
		return nil
	}
	p := u.Path
	if p == "" || !strings.HasPrefix(p, "/") {
		return nil
	}
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("%s %s: %w (a command that only reads creates no store: check the path, or import into it first)", what, p, err)
	}
	return nil
}
