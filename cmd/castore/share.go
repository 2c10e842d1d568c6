package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/httpfront"
)

func runShare(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "share", "ROOT[/path][/] | tag:NAME[:path][/]",
		"Print a link to a stored tree, a directory in it (end the path with /: everything\n"+
			"below it) or a file, that the HTTP gateway (castore http, serve --http-listen) lets\n"+
			"through without a bearer token until it expires. The gateway must run with the same\n"+
			"--share-key-file. Anyone holding the link can read what it names until then.\n"+
			"A tag:NAME link reads whatever the tag names when it is used.")
	keyFile := fs.String("key-file", "", "file holding the share key (at least 32 bytes; the gateway's --share-key-file): head -c 32 /dev/urandom | base64 > share.key")
	base := fs.String("url", "http://127.0.0.1:8080", "the gateway's base URL, as the link's reader reaches it")
	ttl := time.Hour
	fs.Var(ttlValue{&ttl}, "ttl", "how long the link works: 90m, 12h, 30d (at most 366d) (default 1h)")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give exactly one ROOT[/path]")
	}
	if *keyFile == "" {
		return usagef("--key-file is required: the key the gateway checks links with")
	}
	if ttl > httpfront.MaxShareTTL {
		return usagef("--ttl %s is longer than %s", ttlValue{&ttl}, ttlValue{new(httpfront.MaxShareTTL)})
	}
	b, err := url.Parse(*base)
	if err != nil || (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" || b.RawQuery != "" || b.Fragment != "" {
		return usagef("--url %q is not an http:// or https:// base URL without query", *base)
	}
	raw, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	k, err := httpfront.NewShareKey(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyFile, err)
	}
	arg := fs.Arg(0)
	var scope string
	name, p, isTag, err := splitTagArg(arg)
	if isTag {
		if err != nil {
			return err
		}
		// The link follows the tag: whatever it names when it is used.
		scope = "/tags/" + name + ":/"
	} else {
		var root castore.Digest
		if root, p, err = splitRootArg(arg); err != nil {
			return err
		}
		scope = "/b3/" + root.Hex() + "/"
	}
	dir := p == "" || strings.HasSuffix(arg, "/")
	link := scope
	if p != "" {
		scope += string(p)
		for i, c := range p.Components() {
			if i > 0 {
				link += "/"
			}
			link += url.PathEscape(string(c))
		}
		if dir {
			scope += "/"
			link += "/"
		}
	}
	expires := time.Now().Add(ttl)
	tok, err := k.Sign(scope, expires)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.stdout, "%s%s?%s=%s\n", strings.TrimSuffix(b.String(), "/"), link, httpfront.ShareParam, tok)
	if err == nil {
		fmt.Fprintf(env.stderr, "castore share: valid until %s\n", expires.UTC().Format(time.RFC3339))
	}
	return err
}
