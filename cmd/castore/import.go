package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/ingest"
	"github.com/castore-go/castore/ingest/statcache"
)

func runImport(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "import", "PATH | --tar FILE|-",
		"Import a directory, file or symlink (or a tar archive: plain, gzip, bzip2, xz or\nzstd) and print its root digest as b3:<base64> alone on stdout.")
	tarFile := fs.String("tar", "", "import a tar archive from FILE, or - for stdin")
	asJSON := fs.Bool("json", false, `print the root node as JSON: {"type":"directory","digest":"b3:…","size":N}`)
	skipSpecial := fs.Bool("skip-special", false, "leave out sockets, devices and fifos instead of failing")
	wrap := fs.Bool("wrap", false, "make an archive's top-level entries the children of one root directory")
	concurrency := fs.Int("concurrency", 0, "files uploaded at once (default 8 x cores, at least 32)")
	tagName := fs.String("tag", "", "then set tag NAME to the imported root (see castore tag)")
	var ttl time.Duration
	fs.Var(ttlValue{&ttl}, "ttl", "with --tag: expire the tag after this long (90m, 12h, 30d); default: never")
	statCache := fs.String("stat-cache", "", "remember each file's digest by its stat in FILE, so a re-import reads only changed files; off to read everything (default: DATA_DIR/statcache.db with --data-dir, else off)")
	skipKnown := fs.Bool("skip-known", false, "hash each file first and send only those the blob service lacks; default: on for a gRPC blob service (a second import sends only what changed), off for a local store (it dedups anyway)")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if !flagSet(fs, "skip-known") {
		*skipKnown = sf.blobsRemote()
	}
	if (*tarFile == "") == (fs.NArg() != 1) || fs.NArg() > 1 {
		return usagef("give exactly one PATH, or --tar FILE")
	}
	if *tagName != "" {
		if err := castore.ValidateTagName(*tagName); err != nil {
			return usagef("--tag: %v", err)
		}
	} else if ttl != 0 {
		return usagef("--ttl goes with --tag")
	}
	svcs, err := openClientStores(ctx, sf)
	if err != nil {
		return err
	}
	defer svcs.Close()
	var prog ingest.Progress
	o := ingest.Options{SkipSpecial: *skipSpecial, Wrap: *wrap, Concurrency: *concurrency, Progress: &prog, SkipKnown: *skipKnown}
	var cache *statcache.Cache
	if path := statCachePath(*statCache, sf); path != "" && *tarFile == "" {
		cache, err = statcache.Open(path)
		if errors.Is(err, statcache.ErrInUse) {
			// Another import on the same data dir: go on reading everything.
			fmt.Fprintf(env.stderr, "castore import: %v; reading every file\n", err)
		} else if err != nil {
			return err
		} else {
			defer cache.Close()
			o.FileCache = cache
		}
	}
	stop := showProgress(env.stderr, &prog)
	var n castore.Node
	if *tarFile != "" {
		var r io.Reader = env.stdin
		if *tarFile != "-" {
			f, ferr := os.Open(*tarFile)
			if ferr != nil {
				stop()
				return ferr
			}
			defer f.Close()
			r = f
		}
		n, err = ingest.ImportTar(ctx, svcs.Blobs, svcs.Directories, r, o)
	} else {
		n, err = ingest.ImportPath(ctx, svcs.Blobs, svcs.Directories, fs.Arg(0), o)
	}
	stop()
	if err != nil {
		return err
	}
	if o.FileCache != nil {
		if err := cache.Commit(fs.Arg(0)); err != nil {
			// The import stands; the next one reads more.
			fmt.Fprintf(env.stderr, "castore import: %v\n", err)
		}
	}
	if *tagName != "" {
		refs, err := tagServiceFor(ctx, svcs, sf)
		if err != nil {
			return err
		}
		if _, err := setTag(ctx, refs, *tagName, n, ttl, castore.ExpectAny); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(nodeJSON(n))
	}
	if n.Type != castore.NodeDirectory && n.Type != castore.NodeFile {
		return json.NewEncoder(env.stdout).Encode(nodeJSON(n))
	}
	_, err = fmt.Fprintln(env.stdout, n.Digest)
	return err
}

// statCachePath is the stat cache file an import uses: flag, or the data
// dir's by default; "" for none.
func statCachePath(flag string, sf *storeFlags) string {
	switch {
	case flag == "off":
		return ""
	case flag != "":
		return flag
	case sf.dataDir != "" && sf.config == "" && sf.blobAddr == "":
		return filepath.Join(sf.dataDir, "statcache.db")
	}
	return ""
}

// jsonNode is the JSON form of a node.
type jsonNode struct {
	Type       string  `json:"type"`
	Digest     string  `json:"digest,omitempty"`
	Size       *uint64 `json:"size,omitempty"`
	Executable bool    `json:"executable,omitempty"`
	Target     string  `json:"target,omitempty"`
}

func nodeJSON(n castore.Node) jsonNode {
	j := jsonNode{Type: n.Type.String()}
	switch n.Type {
	case castore.NodeDirectory, castore.NodeFile:
		size := n.Size
		j.Digest, j.Size, j.Executable = n.Digest.String(), &size, n.Executable
	case castore.NodeSymlink:
		j.Target = n.Target
	}
	return j
}
