package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/compose"
)

// tagPrefix starts a root argument that names a tag: tag:NAME for the
// tag's root, tag:NAME:path below it. A tag name holds no ':', so the
// second ':' ends it.
const tagPrefix = "tag:"

// splitTagArg splits "tag:NAME[:path]"; isTag is false for any other
// argument.
func splitTagArg(arg string) (name string, p castore.Path, isTag bool, err error) {
	rest, ok := strings.CutPrefix(arg, tagPrefix)
	if !ok {
		return "", "", false, nil
	}
	name, sub, _ := strings.Cut(rest, ":")
	if err := castore.ValidateTagName(name); err != nil {
		return "", "", true, usagef("%v", err)
	}
	sub = strings.TrimSuffix(strings.TrimPrefix(sub, "/"), "/")
	if p, err = castore.ParsePath(sub); err != nil {
		return "", "", true, usagef("path %q: %v", sub, err)
	}
	return name, p, true, nil
}

// checkRootArg checks the form of a ROOT[/path] or tag:NAME[:path]
// argument, before anything is opened.
func checkRootArg(arg string) error {
	if _, _, isTag, err := splitTagArg(arg); isTag {
		return err
	}
	_, _, err := splitRootArg(arg)
	return err
}

// argPath is the path part of a root argument ("" for a root itself).
func argPath(arg string) castore.Path {
	if _, p, isTag, _ := splitTagArg(arg); isTag {
		return p
	}
	_, p, _ := splitRootArg(arg)
	return p
}

// argBase is the name of what a root argument names, for a listing of one
// file: the path's last name, or a tag's last segment.
func argBase(arg string) castore.PathComponent {
	if p := argPath(arg); p != "" {
		_, base := p.Split()
		return base
	}
	if name, _, isTag, _ := splitTagArg(arg); isTag {
		return castore.PathComponent(name[strings.LastIndexByte(name, '/')+1:])
	}
	return ""
}

// resolve finds the node a root argument names: ROOT[/path] below a
// directory digest, or tag:NAME[:path] through the services' tag service
// (an expired tag is refused).
func resolve(ctx context.Context, svcs *compose.Services, dirs castore.DirectoryService, arg string) (castore.Node, error) {
	name, p, isTag, err := splitTagArg(arg)
	if err != nil {
		return castore.Node{}, err
	}
	if !isTag {
		d, p, err := splitRootArg(arg)
		if err != nil {
			return castore.Node{}, err
		}
		return closure.Descend(ctx, dirs, d, p)
	}
	tag, err := getTag(ctx, svcs, name)
	if err != nil {
		return castore.Node{}, err
	}
	if p == "" {
		return tag.Root, nil
	}
	if tag.Root.Type != castore.NodeDirectory {
		return castore.Node{}, fmt.Errorf("tag %q names a %s, which has no path %s below it", name, tag.Root.Type, p)
	}
	return closure.Descend(ctx, dirs, tag.Root.Digest, p)
}

// getTag reads an unexpired tag.
func getTag(ctx context.Context, svcs *compose.Services, name string) (castore.Tag, error) {
	refs, err := svcs.Refs(ctx)
	if err != nil {
		return castore.Tag{}, err
	}
	tag, err := refs.Get(ctx, name)
	if err != nil {
		return castore.Tag{}, tagError(name, err)
	}
	if tag.Expired(time.Now()) {
		return castore.Tag{}, fmt.Errorf("tag %q expired at %s, so it is not read (set it again, or name its root %s directly)", name, tag.Expires.UTC().Format(time.RFC3339), tag.Root.Digest)
	}
	return tag, nil
}
