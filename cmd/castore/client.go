package main

import (
	"context"
	"flag"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/castore-go/castore/compose"
)

// defaultServer is where client commands go when no store is named: the
// address `castore serve` listens on by default.
const defaultServer = "grpc+http://127.0.0.1:8000"

// clientOptions resolves the store flags of a client command: a config
// file; or the given addresses, each defaulting to the local server; or,
// with --data-dir, the embedded stores in that directory, with no server.
func (s *storeFlags) clientOptions() (compose.Options, error) {
	if s.config != "" {
		if s.blobAddr != "" || s.dirAddr != "" || s.refAddr != "" || s.dataDir != "" {
			return compose.Options{}, usagef("--config excludes --blob-service-addr, --directory-service-addr, --ref-service-addr and --data-dir")
		}
		return compose.Options{ConfigFile: s.config}, nil
	}
	opts := compose.Options{BlobServiceAddr: s.blobAddr, DirectoryServiceAddr: s.dirAddr, RefServiceAddr: s.refAddr}
	def := [2]string{defaultServer, defaultServer}
	if s.dataDir != "" {
		b, d, err := embeddedAddrs(s.dataDir)
		if err != nil {
			return opts, err
		}
		def = [2]string{b, d}
	}
	if opts.BlobServiceAddr == "" {
		opts.BlobServiceAddr = def[0]
	}
	if opts.DirectoryServiceAddr == "" {
		opts.DirectoryServiceAddr = def[1]
	}
	return opts, nil
}

// blobsRemote reports whether the flags name a blob service reached over
// gRPC (by address: a config file's services count as local).
func (s *storeFlags) blobsRemote() bool {
	opts, err := s.clientOptions()
	return err == nil && strings.HasPrefix(opts.BlobServiceAddr, "grpc+")
}

// flagSet reports whether the flag called name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// openClientStores opens the stores a client command's flags name.
func openClientStores(ctx context.Context, sf *storeFlags) (*compose.Services, error) {
	opts, err := sf.clientOptions()
	if err != nil {
		return nil, err
	}
	return compose.Open(ctx, compose.DefaultRegistry(), opts)
}

// clientFlagSet is a flag set with the store flags, documented for client
// commands.
func clientFlagSet(env *environment, name, argsUsage, about string) (*flag.FlagSet, *storeFlags) {
	if strings.Contains(argsUsage, "ROOT") {
		about += "\n\nROOT is a directory digest (b3:<base64> or 64 hex characters), or tag:NAME for\nthe root a tag names (tag:NAME:path for a path below it)."
	}
	fs := newFlagSet(env, name, argsUsage, about+"\n\nWithout store flags it talks to the server at "+defaultServer+"; with\n--data-dir DIR it opens the embedded stores in DIR directly.")
	sf := &storeFlags{}
	sf.register(fs)
	return fs, sf
}

// isTerminal reports whether w is a terminal: a file the terminal ioctls
// work on, not merely a character device such as /dev/null.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
