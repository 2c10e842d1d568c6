package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and revision are set at build time by the image build
// (deploy/image/rootfs.sh):
//
//	go build -ldflags "-X main.version=0.1.0 -X main.revision=$(git rev-parse HEAD)"
//
// Left empty (a plain go build or go install), buildInfo fills them from
// what the go command recorded: the module version and the VCS revision.
var (
	version  string
	revision string
)

// buildVersion is what `castore version` prints: the version and revision
// given with -ldflags, else the module version and vcs.revision (with
// "-dirty" if the tree had changes) from the build info, else "devel" and
// "unknown".
func buildVersion(info *debug.BuildInfo, ok bool) (ver, rev string) {
	ver, rev = version, revision
	if ok && ver == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	if ok && rev == "" {
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "-dirty"
		}
	}
	if ver == "" {
		ver = "devel"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev
}

func runVersion(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "version", "", "Print castore's version, the source revision it was built from, and the Go\n"+
		"toolchain and platform. The container image's labels org.opencontainers.image.version\n"+
		"and .revision carry the same two values.")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("takes no arguments")
	}
	info, ok := debug.ReadBuildInfo()
	ver, rev := buildVersion(info, ok)
	fmt.Fprintf(env.stdout, "version:  %s\nrevision: %s\ngo:       %s\nplatform: %s/%s\n", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
