//go:build linux

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tarTime times `tar -cf - . | cat > /dev/null` in dir.
func tarTime(b *testing.B, dir string) time.Duration {
	b.Helper()
	start := time.Now()
	out, err := exec.Command("sh", "-c", "tar -cf - -C '"+dir+"' . | cat > /dev/null").CombinedOutput()
	if err != nil {
		b.Fatalf("tar of %s: %v\n%s", dir, err, out)
	}
	return time.Since(start)
}

// BenchmarkMountTar archives the mounted GOROOT (served over gRPC on
// loopback) against the original directory, side by side:
//
//   - nocache: a new mount without the local cache (--cache-dir off), every
//     directory and blob from the server;
//   - cold: a new mount with an empty local cache (every directory and
//     blob comes from the server and is written into the cache);
//   - cache: a new mount on the cache the cold run filled (nothing from the
//     server, the kernel's page cache empty);
//   - warm: the same mount again (the kernel's page cache full).
//
// Each ratio is the original's time over the mount's (1 = as fast).
//
//	go test -run '^$' -bench MountTar -benchtime 1x ./cmd/castore/
func BenchmarkMountTar(b *testing.B) {
	requireFUSE(b)
	env := map[string]string{"XDG_DATA_HOME": b.TempDir()}
	getenv := func(k string) string { return env[k] }
	srv := startServer(b, getenv, "--data-dir", filepath.Join(b.TempDir(), "server"))
	env["CASTORE_BLOB_SERVICE_ADDR"] = srv.addr
	env["CASTORE_DIRECTORY_SERVICE_ADDR"] = srv.addr
	src := goroot(b)
	code, out, errs := runWith(getenv, "import", src)
	if code != 0 {
		b.Fatalf("import: %s", errs)
	}
	root := strings.TrimSpace(out)

	var orig, cold, cache, warm, nocache time.Duration
	for b.Loop() {
		m := mountWith(b, getenv, b.TempDir(), "--cache-dir", "off", root)
		nocache += tarTime(b, m.mnt)
		m.unmount(b)
		orig += tarTime(b, src)
		cacheDir := filepath.Join(b.TempDir(), "cache")
		for i, d := range []*time.Duration{&cold, &cache} {
			m := mountWith(b, getenv, b.TempDir(), "--cache-dir", cacheDir, root)
			*d += tarTime(b, m.mnt)
			if i == 1 {
				warm += tarTime(b, m.mnt)
			}
			m.unmount(b)
		}
	}
	n := float64(b.N)
	b.ReportMetric(nocache.Seconds()/n, "nocache-s")
	b.ReportMetric(orig.Seconds()/n, "original-s")
	b.ReportMetric(cold.Seconds()/n, "cold-s")
	b.ReportMetric(cache.Seconds()/n, "cache-s")
	b.ReportMetric(warm.Seconds()/n, "warm-s")
	b.ReportMetric(orig.Seconds()/nocache.Seconds(), "original/nocache")
	b.ReportMetric(orig.Seconds()/cold.Seconds(), "original/cold")
	b.ReportMetric(orig.Seconds()/cache.Seconds(), "original/cache")
	b.ReportMetric(orig.Seconds()/warm.Seconds(), "original/warm")
}
