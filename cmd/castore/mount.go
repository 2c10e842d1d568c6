package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/fusefront"
)

// rootFlags collects repeated --root NAME=ROOT[/path] flags.
type rootFlags []string

func (r *rootFlags) String() string { return strings.Join(*r, ",") }
func (r *rootFlags) Set(v string) error {
	name, _, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q is not NAME=ROOT[/path]", v)
	}
	if err := castore.ValidateName([]byte(name)); err != nil {
		return fmt.Errorf("root name %q: %w", name, err)
	}
	*r = append(*r, v)
	return nil
}

func runMount(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "mount", "ROOT[/path] MNT | --root NAME=ROOT[/path] [--root ...] MNT",
		"Mount a stored tree read-only at MNT through FUSE, until SIGINT or SIGTERM.\n"+
			"ROOT[/path] must be a directory; with --root, MNT holds the named roots (any\n"+
			"kind) and only lookups by name work unless --list-root. Blobs and directories\n"+
			"read are kept in a local cache (--cache-dir), so reading them again costs no\n"+
			"network.")
	allowOther := fs.Bool("allow-other", false, "let other users see the mount (needs user_allow_other in /etc/fuse.conf unless root)")
	threads := fs.Int("threads", 16, "most requests using the stores at once")
	xattr := fs.Bool("xattr", false, "expose digests as extended attributes "+fusefront.XattrDirectoryDigest+" and "+fusefront.XattrBlobDigest+" (and snix's user.snix.castore.* beside them)")
	listRoot := fs.Bool("list-root", false, "with --root, let MNT be listed")
	var roots rootFlags
	fs.Var(&roots, "root", "a named root NAME=ROOT[/path] (repeatable)")
	cacheDir := fs.String("cache-dir", "", "local cache of blobs and directories (default $XDG_CACHE_HOME/castore or ~/.cache/castore); \"off\" for none")
	cacheSize := fs.String("cache-size", "10GiB", "most bytes of blobs the cache keeps; the least recently read are evicted beyond it (directories: a mount empties their cache if it has grown past a tenth of this, at least 16 MiB)")
	prefetch := fs.String("prefetch", "dir", "what to fetch before it is read, into the cache: off; dir (when a directory is first listed, the small files of its subtree in the order tar and cp -r read them, up to 4096 files or 12 MiB ahead of the reads; when one is first looked up in, its own small files); tree (the small files of the whole tree, breadth first, from the start); at most half of --cache-size in all. The prefetched files of a listed directory are put into the kernel's page cache, so reading them costs no request")
	debug := fs.Bool("debug", false, "log every FUSE request")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	var mnt string
	switch {
	case len(roots) > 0 && fs.NArg() == 1:
		mnt = fs.Arg(0)
	case len(roots) == 0 && fs.NArg() == 2:
		if err := checkRootArg(fs.Arg(0)); err != nil {
			return err
		}
		mnt = fs.Arg(1)
	default:
		return usagef("give ROOT[/path] MNT, or --root NAME=ROOT[/path] (repeatable) and MNT")
	}
	if *listRoot && len(roots) == 0 {
		return usagef("--list-root goes with --root")
	}
	if *threads < 1 {
		return usagef("--threads must be at least 1")
	}
	named := map[string]string{}
	for _, r := range roots {
		name, arg, _ := strings.Cut(r, "=")
		if _, dup := named[name]; dup {
			return usagef("--root %s: the name is given twice", name)
		}
		if err := checkRootArg(arg); err != nil {
			return err
		}
		named[name] = arg
	}
	maxCache, err := parseBytes(*cacheSize)
	if err != nil {
		return usagef("--cache-size: %v", err)
	}
	prefetchMode, err := fusefront.ParsePrefetchMode(*prefetch)
	if err != nil {
		return usagef("--prefetch: %v", err)
	}
	if err := fusefront.CheckMountpoint(mnt); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(env.stderr, nil))

	svcs, err := openStoresToRead(ctx, sf)
	if err != nil {
		return err
	}
	defer svcs.Close()
	blobs, dirs := svcs.Blobs, svcs.Directories
	if *cacheDir != "off" {
		dir := *cacheDir
		if dir == "" {
			if dir, err = defaultCacheDir(env); err != nil {
				return err
			}
		}
		c, err := compose.OpenLocalCache(dir, maxCache, blobs, dirs, log)
		if err != nil {
			return err
		}
		defer c.Close()
		blobs, dirs = c.Blobs, c.Dirs
	}

	var root fusefront.Root
	if len(roots) == 0 {
		n, err := resolve(ctx, svcs, dirs, fs.Arg(0))
		if err != nil {
			return err
		}
		if n.Type != castore.NodeDirectory {
			return fmt.Errorf("%s is a %s; mount a directory, or name it with --root NAME=%s", fs.Arg(0), n.Type, fs.Arg(0))
		}
		root.Node = n
	} else {
		root.Named = map[castore.PathComponent]castore.Node{}
		for name, arg := range named {
			n, err := resolve(ctx, svcs, dirs, arg)
			if err != nil {
				return fmt.Errorf("--root %s: %w", name, err)
			}
			root.Named[castore.PathComponent(name)] = n
		}
	}

	srv, err := fusefront.Mount(mnt, blobs, dirs, root, fusefront.Options{
		ListRoot: *listRoot, XAttr: *xattr, AllowOther: *allowOther, Threads: *threads, Logger: log, Debug: *debug,
		Prefetch: prefetchMode, PrefetchBytes: max(maxCache/2, 1),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "castore mount: mounted at %s; Ctrl-C or SIGTERM unmounts\n", srv.Mountpoint())
	if env.onMount != nil {
		env.onMount(srv.Mountpoint())
	}
	unmounted := make(chan struct{})
	go func() { srv.Wait(); close(unmounted) }()
	select {
	case <-unmounted:
		fmt.Fprintf(env.stderr, "castore mount: %s was unmounted\n", srv.Mountpoint())
		return nil
	case <-ctx.Done():
	}
	return unmount(env, srv, unmounted)
}

// unmount unmounts after a signal: cleanly if it can within a few seconds
// (it cannot while files are open in it), else lazily, saying so.
func unmount(env *environment, srv *fusefront.Server, unmounted <-chan struct{}) error {
	var err error
	for range 20 {
		if err = srv.Unmount(); err == nil {
			<-unmounted
			fmt.Fprintf(env.stderr, "castore mount: unmounted %s\n", srv.Mountpoint())
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	fmt.Fprintf(env.stderr, "castore mount: %v; detaching it lazily: processes still using it will get errors\n", err)
	if err := srv.UnmountLazy(); err != nil {
		return err
	}
	return nil
}

// defaultCacheDir is $XDG_CACHE_HOME/castore, else ~/.cache/castore.
func defaultCacheDir(env *environment) (string, error) {
	if x := env.getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "castore"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --cache-dir, no XDG_CACHE_HOME and no home directory: %w", err)
	}
	return filepath.Join(home, ".cache", "castore"), nil
}

// parseBytes parses a size: digits and an optional unit B, K or KiB, M or
// MiB, G or GiB, T or TiB (powers of 1024).
func parseBytes(s string) (int64, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	units := map[string]uint{"": 0, "B": 0, "K": 10, "KiB": 10, "M": 20, "MiB": 20, "G": 30, "GiB": 30, "T": 40, "TiB": 40}
	sh, ok := units[s[i:]]
	if err != nil || !ok || n > math.MaxInt64>>sh {
		return 0, fmt.Errorf("%q is not a size (say 500MiB or 10GiB)", s)
	}
	return n << sh, nil
}
