package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	c := newCLI(t)
	out := c.ok("version")
	for _, want := range []string{"version:  ", "revision: ", "go:       " + runtime.Version(), "platform: " + runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(out, want) {
			t.Errorf("castore version printed %q, want a line with %q", out, want)
		}
	}
	if code, _, errs := c.run(nil, "version", "extra"); code != 2 || !strings.Contains(errs, "takes no arguments") {
		t.Errorf("castore version extra: exit %d, %q; want 2, takes no arguments", code, errs)
	}
	if code, _, errs := c.run(nil, "help"); code != 0 || !strings.Contains(errs, "version  print the version") {
		t.Errorf("castore help lists no version command: %q", errs)
	}
}

// The -ldflags values (the image's) win; a plain go build falls back to
// the build info, then to devel and unknown.
func TestVersionSources(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/castore-go/castore", Version: "(devel)"}}
		if rev != "" {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: "vcs.revision", Value: rev})
		}
		if modified != "" {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: "vcs.modified", Value: modified})
		}
		return info
	}
	tagged := vcs("abc123", "false")
	tagged.Main.Version = "v0.1.0"
	for _, tc := range []struct {
		name             string
		ldVersion, ldRev string
		info             *debug.BuildInfo
		ok               bool
		wantVer, wantRev string
	}{
		{"ldflags", "0.1.0", "f00d", vcs("abc123", "true"), true, "0.1.0", "f00d"},
		{"ldflags version only", "0.1.0", "", vcs("abc123", "false"), true, "0.1.0", "abc123"},
		{"clean checkout", "", "", vcs("abc123", "false"), true, "devel", "abc123"},
		{"dirty checkout", "", "", vcs("abc123", "true"), true, "devel", "abc123-dirty"},
		{"module version", "", "", tagged, true, "v0.1.0", "abc123"},
		{"no vcs", "", "", vcs("", ""), true, "devel", "unknown"},
		{"no build info", "", "", nil, false, "devel", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldV, oldR := version, revision
			version, revision = tc.ldVersion, tc.ldRev
			defer func() { version, revision = oldV, oldR }()
			ver, rev := buildVersion(tc.info, tc.ok)
			if ver != tc.wantVer || rev != tc.wantRev {
				t.Errorf("got %q, %q; want %q, %q", ver, rev, tc.wantVer, tc.wantRev)
			}
		})
	}
}
