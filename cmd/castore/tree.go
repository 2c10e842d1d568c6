package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/ingest"
)

// splitRootArg splits "ROOT[/path]": ROOT is a b3:<base64> digest (which
// itself contains slashes, but has a fixed length) or 64 hex characters.
func splitRootArg(arg string) (castore.Digest, castore.Path, error) {
	n := len(arg)
	switch {
	case strings.HasPrefix(arg, "b3:"):
		n = min(n, 3+44)
	default:
		if i := strings.IndexByte(arg, '/'); i >= 0 {
			n = i
		}
	}
	d, err := castore.ParseDigest(arg[:n])
	if err != nil {
		return d, "", usagef("root %q: %v", arg[:n], err)
	}
	rest := strings.TrimPrefix(arg[n:], "/")
	rest = strings.TrimSuffix(rest, "/")
	p, err := castore.ParsePath(rest)
	if err != nil {
		return d, "", usagef("path %q: %v", rest, err)
	}
	return d, p, nil
}

func runExport(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "export", "ROOT[/path] DEST | --tar ROOT[/path] > out.tar",
		"Write a tree out: into DEST (which must be empty or missing, unless --force),\nor as a tar stream on stdout. Nothing is written outside DEST.")
	asTar := fs.Bool("tar", false, "write a tar stream to stdout")
	force := fs.Bool("force", false, "write into a non-empty DEST, replacing what is in the way")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if *asTar && fs.NArg() != 1 || !*asTar && fs.NArg() != 2 {
		return usagef("give ROOT DEST, or --tar ROOT")
	}
	if err := checkRootArg(fs.Arg(0)); err != nil {
		return err
	}
	svcs, err := openStoresToRead(ctx, sf)
	if err != nil {
		return err
	}
	defer svcs.Close()
	n, err := resolve(ctx, svcs, svcs.Directories, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asTar && isTerminal(env.stdout) {
		return usagef("refusing to write a tar stream to a terminal: redirect stdout")
	}
	var prog ingest.Progress
	o := ingest.ExportOptions{Force: *force, Progress: &prog}
	stop := showProgress(env.stderr, &prog)
	defer stop()
	if *asTar {
		return ingest.ExportTar(ctx, svcs.Blobs, svcs.Directories, n, env.stdout, o)
	}
	return ingest.ExportDir(ctx, svcs.Blobs, svcs.Directories, n, fs.Arg(1), o)
}

func runLs(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "ls", "ROOT[/path]", "List a directory of a stored tree.")
	long := fs.Bool("l", false, "long listing: type and mode, size, digest or target")
	recursive := fs.Bool("R", false, "list subdirectories recursively")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give one ROOT[/path]")
	}
	if err := checkRootArg(fs.Arg(0)); err != nil {
		return err
	}
	svcs, err := openStoresToRead(ctx, sf)
	if err != nil {
		return err
	}
	defer svcs.Close()
	n, err := resolve(ctx, svcs, svcs.Directories, fs.Arg(0))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 1, ' ', tabwriter.AlignRight)
	defer tw.Flush()
	line := func(prefix string, name castore.PathComponent, e castore.Node) {
		if !*long {
			fmt.Fprintf(tw, "%s%s\n", prefix, name)
			return
		}
		switch e.Type {
		case castore.NodeDirectory:
			fmt.Fprintf(tw, "dr-xr-xr-x\t%d\t %s\t %s%s/\n", e.Size, e.Digest, prefix, name)
		case castore.NodeFile:
			mode := "-r--r--r--"
			if e.Executable {
				mode = "-r-xr-xr-x"
			}
			fmt.Fprintf(tw, "%s\t%d\t %s\t %s%s\n", mode, e.Size, e.Digest, prefix, name)
		case castore.NodeSymlink:
			fmt.Fprintf(tw, "lrwxrwxrwx\t%d\t %s\t %s%s -> %s\n", len(e.Target), "-", prefix, name, e.Target)
		}
	}
	if n.Type != castore.NodeDirectory {
		line("", argBase(fs.Arg(0)), n)
		return nil
	}
	var list func(d castore.Digest, prefix string) error
	list = func(d castore.Digest, prefix string) error {
		dir, err := svcs.Directories.Get(ctx, d)
		if err != nil {
			return fmt.Errorf("directory %s: %w", d, err)
		}
		for _, e := range dir.Entries() {
			line(prefix, e.Name, e.Node)
			if *recursive && e.Node.Type == castore.NodeDirectory {
				if err := list(e.Node.Digest, prefix+string(e.Name)+"/"); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return list(n.Digest, "")
}

func runCat(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "cat", "ROOT/path | DIGEST", "Write a file of a stored tree, or a blob by its digest, to stdout.")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give one ROOT/path or DIGEST")
	}
	if err := checkRootArg(fs.Arg(0)); err != nil {
		return err
	}
	_, _, isTag, _ := splitTagArg(fs.Arg(0))
	p := argPath(fs.Arg(0))
	svcs, err := openStoresToRead(ctx, sf)
	if err != nil {
		return err
	}
	defer svcs.Close()
	if p != "" || isTag {
		n, err := resolve(ctx, svcs, svcs.Directories, fs.Arg(0))
		if err != nil {
			return err
		}
		if n.Type != castore.NodeFile {
			return fmt.Errorf("%s is a %s, not a file", fs.Arg(0), n.Type)
		}
		r, err := castore.OpenSized(ctx, svcs.Blobs, n.Digest, n.Size)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		defer r.Close()
		if _, err := io.Copy(env.stdout, struct{ io.Reader }{r}); err != nil {
			return fmt.Errorf("%s: blob %s: %w", p, n.Digest, err)
		}
		return nil
	}
	d, _, _ := splitRootArg(fs.Arg(0))
	r, err := svcs.Blobs.Open(ctx, d)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	defer r.Close()
	if _, err := io.Copy(env.stdout, struct{ io.Reader }{r}); err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	return nil
}

func runStat(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "stat", "DIGEST", "Describe a stored directory (entries, size) or blob (size, chunks).")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give one DIGEST")
	}
	d, err := castore.ParseDigest(fs.Arg(0))
	if err != nil {
		return usagef("digest %q: %v", fs.Arg(0), err)
	}
	svcs, err := openStoresToRead(ctx, sf)
	if err != nil {
		return err
	}
	defer svcs.Close()
	out := json.NewEncoder(env.stdout)
	out.SetIndent("", "  ")
	dir, err := svcs.Directories.Get(ctx, d)
	switch {
	case err == nil:
		counts := map[castore.NodeType]int{}
		for _, e := range dir.Entries() {
			counts[e.Node.Type]++
		}
		if *asJSON {
			return out.Encode(map[string]any{"type": "directory", "digest": d.String(), "size": dir.Size(),
				"entries": dir.Len(), "directories": counts[castore.NodeDirectory], "files": counts[castore.NodeFile], "symlinks": counts[castore.NodeSymlink]})
		}
		fmt.Fprintf(env.stdout, "directory %s\nsize      %d\nentries   %d (%d directories, %d files, %d symlinks)\n",
			d, dir.Size(), dir.Len(), counts[castore.NodeDirectory], counts[castore.NodeFile], counts[castore.NodeSymlink])
		return nil
	case !errors.Is(err, castore.ErrNotFound):
		return fmt.Errorf("directory %s: %w", d, err)
	}
	chunks, err := svcs.Blobs.Chunks(ctx, d)
	if err != nil {
		if errors.Is(err, castore.ErrNotFound) {
			return fmt.Errorf("%s is neither a directory nor a blob in this store: %w", d, castore.ErrNotFound)
		}
		return fmt.Errorf("blob %s: %w", d, err)
	}
	var size uint64
	for _, c := range chunks {
		size += c.Size
	}
	if len(chunks) == 0 {
		r, err := svcs.Blobs.Open(ctx, d)
		if err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
		end, err := r.Seek(0, io.SeekEnd)
		r.Close()
		if err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
		size = uint64(end)
	}
	if *asJSON {
		cs := make([]map[string]any, len(chunks))
		for i, c := range chunks {
			cs[i] = map[string]any{"digest": c.Digest.String(), "size": c.Size}
		}
		return out.Encode(map[string]any{"type": "blob", "digest": d.String(), "size": size, "chunks": cs})
	}
	fmt.Fprintf(env.stdout, "blob   %s\nsize   %d\nchunks %d\n", d, size, len(chunks))
	for _, c := range chunks {
		fmt.Fprintf(env.stdout, "  %s %d\n", c.Digest, c.Size)
	}
	return nil
}

func runCopy(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "copy", "ROOT[/path] --to-blob-service-addr URL --to-directory-service-addr URL",
		"Copy a tree and its blobs to other stores, sending only what they lack.")
	toBlobs := fs.String("to-blob-service-addr", "", "blob service to copy to (required)")
	toDirs := fs.String("to-directory-service-addr", "", "directory service to copy to (required)")
	toRefs := fs.String("to-ref-service-addr", "", "with ROOT tag:NAME: tag service to set the tag in (default: beside the target directory service)")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give one ROOT")
	}
	if *toBlobs == "" || *toDirs == "" {
		return usagef("--to-blob-service-addr and --to-directory-service-addr are required")
	}
	if err := checkRootArg(fs.Arg(0)); err != nil {
		return err
	}
	from, err := openStoresToRead(ctx, sf)
	if err != nil {
		return err
	}
	defer from.Close()
	toFlags := &storeFlags{blobAddr: *toBlobs, dirAddr: *toDirs, refAddr: *toRefs}
	to, err := openClientStores(ctx, toFlags)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer to.Close()
	n, err := resolve(ctx, from, from.Directories, fs.Arg(0))
	if err != nil {
		return err
	}
	var st ingest.CopyStats
	var prog ingest.Progress
	stop := showProgress(env.stderr, &prog)
	err = ingest.Copy(ctx, from.Blobs, from.Directories, to.Blobs, to.Directories, n, ingest.Options{Progress: &prog}, &st)
	stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "copied %d blobs (%s), %d already there; %d directories\n",
		st.Blobs.Load(), humanize.IBytes(uint64(st.Bytes.Load())), st.BlobsSkipped.Load(), st.Directories)
	if name, p, isTag, _ := splitTagArg(fs.Arg(0)); isTag && p == "" {
		// The tag comes along, with its expiry.
		tag, err := getTag(ctx, from, name)
		if err != nil {
			return err
		}
		if !tag.Root.Equal(n) {
			return fmt.Errorf("tag %q moved to %s during the copy; copy it again", name, tag.Root.Digest)
		}
		refs, err := tagServiceFor(ctx, to, toFlags)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		if _, err := refs.Set(ctx, castore.Tag{Name: name, Root: n, Expires: tag.Expires}, castore.ExpectAny); err != nil {
			return fmt.Errorf("target: tag %q: %w", name, err)
		}
		fmt.Fprintf(env.stderr, "set tag %q in the target\n", name)
	}
	fmt.Fprintln(env.stdout, n.Digest)
	return nil
}
