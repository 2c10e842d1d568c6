package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
)

func runTag(ctx context.Context, env *environment, args []string) error {
	subs := map[string]func(context.Context, *environment, []string) error{
		"set": runTagSet, "get": runTagGet, "ls": runTagLs, "rm": runTagRm,
	}
	if len(args) == 0 || subs[args[0]] == nil {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(env.stdout, tagUsage)
			return nil
		}
		return usagef("%s", strings.TrimSpace(tagUsage))
	}
	return subs[args[0]](ctx, env, args[1:])
}

const tagUsage = `Usage: castore tag set|get|ls|rm ...

Tags are named roots: a name (ci/myrepo/main; segments of A-Z a-z 0-9 . _ - + = @
joined by /) that keeps a tree alive for garbage collection, optionally until it
expires. Every command that takes a ROOT takes tag:NAME too.

  castore tag set NAME ROOT [--ttl 30d] [--if-absent | --if-root DIGEST]
  castore tag get NAME [--json]
  castore tag ls [PREFIX] [--json]
  castore tag rm NAME [--if-root DIGEST]

castore tag CMD --help describes each.
`

// tagServiceFor returns the services' tag service; one that sets tags
// checks, where the stores are local, that a root's closure is whole (a
// server checks its own).
func tagServiceFor(ctx context.Context, svcs *compose.Services, sf *storeFlags) (castore.RefService, error) {
	opts, err := sf.clientOptions()
	if err == nil && strings.HasPrefix(opts.DirectoryServiceAddr, "grpc+") && (opts.RefServiceAddr == "" || strings.HasPrefix(opts.RefServiceAddr, "grpc+")) {
		return svcs.Refs(ctx)
	}
	return svcs.CompleteRefs(ctx)
}

// expectFlags are the conditions of tag set and tag rm.
type expectFlags struct {
	ifAbsent bool
	ifRoot   string
}

func (e *expectFlags) register(fs interface {
	BoolVar(*bool, string, bool, string)
	StringVar(*string, string, string, string)
}, absent bool) {
	if absent {
		fs.BoolVar(&e.ifAbsent, "if-absent", false, "only if no tag of the name exists (else fail: exit 1, 'changed concurrently')")
	}
	fs.StringVar(&e.ifRoot, "if-root", "", "only if the tag names this root digest now: a compare-and-swap, so two writers racing cannot lose an update silently")
}

// expect turns the flags into a condition. --if-root reads the tag to get
// the whole node; the Set or Delete then fails if it changed since.
func (e *expectFlags) expect(ctx context.Context, refs castore.RefService, name string) (castore.Expect, error) {
	switch {
	case e.ifAbsent && e.ifRoot != "":
		return castore.Expect{}, usagef("--if-absent and --if-root exclude each other")
	case e.ifAbsent:
		return castore.ExpectAbsent(), nil
	case e.ifRoot == "":
		return castore.ExpectAny, nil
	}
	want, err := castore.ParseDigest(e.ifRoot)
	if err != nil {
		return castore.Expect{}, usagef("--if-root %q: %v", e.ifRoot, err)
	}
	cur, err := refs.Get(ctx, name)
	if errors.Is(err, castore.ErrNotFound) {
		return castore.Expect{}, fmt.Errorf("tag %q does not exist, so it does not name %s: %w", name, want, castore.ErrConflict)
	}
	if err != nil {
		return castore.Expect{}, err
	}
	if cur.Root.Digest != want {
		return castore.Expect{}, fmt.Errorf("tag %q names %s, not %s: %w", name, cur.Root.Digest, want, castore.ErrConflict)
	}
	return castore.ExpectRoot(cur.Root), nil
}

func runTagSet(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "tag set", "NAME ROOT[/path]", "Make tag NAME name a root (a directory, or a file or symlink below one).\nThe root's closure must be whole in the stores: every directory and blob.")
	var ttl time.Duration
	fs.Var(ttlValue{&ttl}, "ttl", "expire the tag after this long (90m, 12h, 30d); default: never")
	var ex expectFlags
	ex.register(fs, true)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("give NAME and ROOT")
	}
	name := fs.Arg(0)
	if err := castore.ValidateTagName(name); err != nil {
		return usagef("%v", err)
	}
	if err := checkRootArg(fs.Arg(1)); err != nil {
		return err
	}
	svcs, err := openClientStores(ctx, sf)
	if err != nil {
		return err
	}
	defer svcs.Close()
	n, err := resolve(ctx, svcs, svcs.Directories, fs.Arg(1))
	if err != nil {
		return err
	}
	refs, err := tagServiceFor(ctx, svcs, sf)
	if err != nil {
		return err
	}
	expect, err := ex.expect(ctx, refs, name)
	if err != nil {
		return err
	}
	t, err := setTag(ctx, refs, name, n, ttl, expect)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s\n", t.Root.Digest)
	return nil
}

// setTag sets tag name to n, expiring after ttl (0: never).
func setTag(ctx context.Context, refs castore.RefService, name string, n castore.Node, ttl time.Duration, expect castore.Expect) (castore.Tag, error) {
	t := castore.Tag{Name: name, Root: n}
	if ttl > 0 {
		t.Expires = time.Now().Add(ttl).Truncate(time.Second)
	}
	got, err := refs.Set(ctx, t, expect)
	if err != nil {
		return castore.Tag{}, fmt.Errorf("tag %q: %w", name, err)
	}
	return got, nil
}

// openTags opens the stores sf names, to read only or to write, and
// returns their tag service and what closes them.
func openTags(ctx context.Context, sf *storeFlags, write bool) (castore.RefService, func() error, error) {
	open := openStoresToRead
	if write {
		open = openClientStores
	}
	svcs, err := open(ctx, sf)
	if err != nil {
		return nil, nil, err
	}
	refs, err := svcs.Refs(ctx)
	if err != nil {
		svcs.Close()
		return nil, nil, err
	}
	return refs, svcs.Close, nil
}

// oneTagName is the one NAME argument of a tag command, checked.
func oneTagName(fs *flag.FlagSet) (string, error) {
	if fs.NArg() != 1 {
		return "", usagef("give one NAME")
	}
	name := fs.Arg(0)
	if err := castore.ValidateTagName(name); err != nil {
		return "", usagef("%v", err)
	}
	return name, nil
}

// tagError says what went wrong with tag name.
func tagError(name string, err error) error {
	if errors.Is(err, castore.ErrNotFound) {
		return fmt.Errorf("tag %q: no such tag", name)
	}
	return fmt.Errorf("tag %q: %w", name, err)
}

// tagJSON is the JSON form of a tag.
type tagJSON struct {
	Name    string   `json:"name"`
	Root    jsonNode `json:"root"`
	Expires string   `json:"expires,omitempty"`
	Expired bool     `json:"expired,omitempty"`
	Updated string   `json:"updated,omitempty"`
}

func toTagJSON(t castore.Tag, now time.Time) tagJSON {
	j := tagJSON{Name: t.Name, Root: nodeJSON(t.Root), Expired: t.Expired(now)}
	if !t.Expires.IsZero() {
		j.Expires = t.Expires.UTC().Format(time.RFC3339)
	}
	if !t.Updated.IsZero() {
		j.Updated = t.Updated.UTC().Format(time.RFC3339)
	}
	return j
}

func runTagGet(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "tag get", "NAME", "Print the root digest tag NAME names (expired tags too: see --json).")
	asJSON := fs.Bool("json", false, `print {"name","root":{…},"expires","expired","updated"}`)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	name, err := oneTagName(fs)
	if err != nil {
		return err
	}
	refs, done, err := openTags(ctx, sf, false)
	if err != nil {
		return err
	}
	defer done()
	t, err := refs.Get(ctx, name)
	if err != nil {
		return tagError(name, err)
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(toTagJSON(t, time.Now()))
	}
	if t.Expired(time.Now()) {
		fmt.Fprintf(env.stderr, "castore tag get: tag %q expired at %s\n", name, t.Expires.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(env.stdout, t.Root.Digest)
	return nil
}

func runTagLs(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "tag ls", "[PREFIX]", "List the tags whose names start with PREFIX (ci/ lists ci/x, not cix), in name order:\nname, root, expiry, last set.")
	asJSON := fs.Bool("json", false, "one JSON object a line, as tag get --json")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("give at most one PREFIX")
	}
	prefix := fs.Arg(0)
	if err := castore.ValidateTagPrefix(prefix); err != nil {
		return usagef("%v", err)
	}
	refs, done, err := openTags(ctx, sf, false)
	if err != nil {
		return err
	}
	defer done()
	now := time.Now()
	enc := json.NewEncoder(env.stdout)
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	for t, err := range refs.List(ctx, prefix) {
		if err != nil {
			return err
		}
		if *asJSON {
			if err := enc.Encode(toTagJSON(t, now)); err != nil {
				return err
			}
			continue
		}
		exp := "never"
		switch {
		case t.Expired(now):
			exp = "expired " + t.Expires.UTC().Format(time.RFC3339)
		case !t.Expires.IsZero():
			exp = t.Expires.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Root.Digest, exp, t.Updated.UTC().Format(time.RFC3339))
	}
	return nil
}

func runTagRm(ctx context.Context, env *environment, args []string) error {
	fs, sf := clientFlagSet(env, "tag rm", "NAME", "Delete tag NAME: its tree is then kept only by other tags (and for the\ngarbage collector's grace period).")
	var ex expectFlags
	ex.register(fs, false)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	name, err := oneTagName(fs)
	if err != nil {
		return err
	}
	refs, done, err := openTags(ctx, sf, true)
	if err != nil {
		return err
	}
	defer done()
	expect, err := ex.expect(ctx, refs, name)
	if err != nil {
		return err
	}
	if err := refs.Delete(ctx, name, expect); err != nil {
		return tagError(name, err)
	}
	return nil
}
