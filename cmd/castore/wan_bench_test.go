//go:build linux

package main

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/castore-go/castore/internal/testenv"
)

// The WAN benchmark (make bench-wan) measures what castore's reads and
// writes cost over a slow link: castore serve (the embedded default) sits
// behind a toxiproxy link with a round-trip time added, and the clients
// (mount, export, import) talk to it through the link. Every figure is
// printed beside the same operation over plain loopback, measured in the
// same run, as a ratio.
//
//	CASTORE_BENCH_WAN=1 go test -run '^$' -bench WAN -benchtime 1x -timeout 3h ./cmd/castore/
//
// CASTORE_WAN_RTTS lists the round trips for the small-tree figures
// (default 1ms,10ms,50ms); CASTORE_WAN_GOROOT_RTTS those for all of
// GOROOT (default 10ms: a GOROOT read that costs a round trip per file
// takes half an hour at 50 ms; "none" leaves them out).

// wanBench skips unless CASTORE_BENCH_WAN is set, as `make bench-wan` does.
func wanBench(b *testing.B) {
	b.Helper()
	if os.Getenv("CASTORE_BENCH_WAN") == "" {
		b.Skip("WAN benchmark: run `make bench-wan` (or set CASTORE_BENCH_WAN=1)")
	}
}

// rttList parses a comma-separated list of durations from the environment.
func rttList(b *testing.B, key, def string) []time.Duration {
	b.Helper()
	s := os.Getenv(key)
	if s == "" {
		s = def
	}
	var out []time.Duration
	if s == "none" {
		return nil
	}
	for f := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			b.Fatalf("%s: %q is not a duration: %v", key, f, err)
		}
		out = append(out, d)
	}
	return out
}

// mountChild is `castore mount` in a child process, so that its memory
// can be measured on its own.
type mountChild struct {
	mnt    string
	pid    int
	stop   func() (peakRSS int64)
	stderr *testenv.SyncBuffer
}

// startMountChild mounts root (or, if root is "", the --root flags in
// args) at a new directory with a fresh cache and waits until it is
// mounted.
func startMountChild(b *testing.B, addr, root string, args ...string) *mountChild {
	b.Helper()
	requireFUSE(b)
	mnt := b.TempDir()
	cacheDir := filepath.Join(b.TempDir(), "cache")
	if root := os.Getenv("CASTORE_WAN_CACHE_ROOT"); root != "" {
		// Where the mount caches go (default: the test's temp dir), to
		// tell the cache's file system from the rest.
		d, err := os.MkdirTemp(root, "cache")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(d) })
		cacheDir = d
	}
	all := append([]string{"mount", "--blob-service-addr", addr, "--directory-service-addr", addr,
		"--cache-dir", cacheDir}, args...)
	if root != "" {
		all = append(all, root)
	}
	cmd := castoreCommand(append(all, mnt)...)
	stderr := &testenv.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() int64 {
		if stopped {
			return 0
		}
		stopped = true
		peak := peakRSS(cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				b.Errorf("mount exited with %v:\n%s", err, stderr)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
			b.Errorf("mount did not stop within 60s of SIGTERM")
		}
		if isMountpoint(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		return peak
	}
	b.Cleanup(func() { stop() })
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(stderr.String(), "mounted at"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("mount did not mount within 60s:\n%s", stderr)
		}
	}
	return &mountChild{mnt: mnt, pid: cmd.Process.Pid, stop: stop, stderr: stderr}
}

// peakRSS is a process's peak resident set (VmHWM), in bytes, or 0.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// coldMountTar times a cold tar of sub (a path inside root's tree) through
// a fresh mount of root served at addr, and returns the mount's peak RSS.
func coldMountTar(b *testing.B, addr, root, sub string, args ...string) (time.Duration, int64) {
	b.Helper()
	m := startMountChild(b, addr, root, args...)
	d := tarTime(b, filepath.Join(m.mnt, sub))
	return d, m.stop()
}

// exportTime times `castore export` of root from addr into a new
// directory.
func exportTime(b *testing.B, addr, root string) time.Duration {
	b.Helper()
	dest := filepath.Join(b.TempDir(), "out")
	start := time.Now()
	cmd := castoreCommand("export", "--blob-service-addr", addr, "--directory-service-addr", addr, root, dest)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("export %s from %s: %v\n%s", root, addr, err, out)
	}
	// dest stays until the benchmark ends. Removed at once, its 15,000
	// inodes made the next export's file creations scan for inodes not
	// recently deleted (ext4's recently_deleted, 52% of a perf profile):
	// an export 10 ms away took 10.6 s after the loopback export's
	// removal, 2.45 s in a fresh file system state.
	return time.Since(start)
}

// importRoot imports src into the store at addr and returns the root.
func importRoot(b *testing.B, addr, src string) string {
	b.Helper()
	cmd := castoreCommand("import", "--blob-service-addr", addr, "--directory-service-addr", addr, src)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("import %s into %s: %v", src, addr, err)
	}
	return strings.TrimSpace(string(out))
}

// grpcAddr turns host:port into a castore client URL.
func grpcAddr(hostport string) string { return "grpc+http://" + hostport }

// wanReport prints one figure against its loopback baseline.
func wanReport(b *testing.B, what string, rtt time.Duration, d, loop time.Duration) {
	b.Helper()
	b.Logf("%-58s rtt %-5v %8.2fs  = %5.2fx loopback (%.2fs)", what, rtt, d.Seconds(), d.Seconds()/loop.Seconds(), loop.Seconds())
	b.ReportMetric(d.Seconds()/loop.Seconds(), fmt.Sprintf("%s@%v/loopback", strings.ReplaceAll(what, " ", "-"), rtt))
}

func BenchmarkWANRead(b *testing.B) {
	wanBench(b)
	rtts := rttList(b, "CASTORE_WAN_RTTS", "1ms,10ms,50ms")
	gorootRTTs := rttList(b, "CASTORE_WAN_GOROOT_RTTS", "10ms")
	src := goroot(b)
	const crypto = "src/crypto"

	srv := startServeChild(b, filepath.Join(b.TempDir(), "server"))
	loop := strings.TrimPrefix(srv.addr, "grpc+http://")
	root := importRoot(b, srv.addr, src)
	tp := testenv.Toxiproxy(b)
	link := tp.Link(b, loop)

	for b.Loop() {
		disk := tarTime(b, filepath.Join(src, crypto))
		diskAll := tarTime(b, src)
		b.Logf("local disk: tar of %s %.3fs, of GOROOT %.2fs", crypto, disk.Seconds(), diskAll.Seconds())

		// Loopback, no proxy: the baselines.
		loopCrypto, _ := coldMountTar(b, srv.addr, root, crypto)
		b.Logf("%-58s %8.2fs  = %5.1fx local disk", "cold mount tar of "+crypto+", loopback", loopCrypto.Seconds(), loopCrypto.Seconds()/disk.Seconds())
		b.ReportMetric(loopCrypto.Seconds()/disk.Seconds(), "mount-crypto-loopback/disk")
		var loopAll, loopExport time.Duration
		if len(gorootRTTs) > 0 {
			var rss int64
			loopAll, rss = coldMountTar(b, srv.addr, root, ".")
			b.Logf("%-58s %8.2fs  = %5.1fx local disk, mount peak RSS %d MiB", "cold mount tar of GOROOT, loopback", loopAll.Seconds(), loopAll.Seconds()/diskAll.Seconds(), rss>>20)
			loopExport = exportTime(b, srv.addr, root)
			b.Logf("%-58s %8.2fs", "export of GOROOT, loopback", loopExport.Seconds())
		}

		for _, rtt := range rtts {
			link.SetRTT(b, rtt)
			d, _ := coldMountTar(b, grpcAddr(link.Addr), root, crypto)
			wanReport(b, "cold mount tar of "+crypto, rtt, d, loopCrypto)
		}
		for _, rtt := range gorootRTTs {
			link.SetRTT(b, rtt)
			d, rss := coldMountTar(b, grpcAddr(link.Addr), root, ".")
			wanReport(b, "cold mount tar of GOROOT", rtt, d, loopAll)
			b.Logf("  mount peak RSS %d MiB", rss>>20)
			wanReport(b, "export of GOROOT", rtt, exportTime(b, grpcAddr(link.Addr), root), loopExport)
			d, rss = coldMountTar(b, grpcAddr(link.Addr), root, ".", "--prefetch", "tree")
			wanReport(b, "cold mount tar of GOROOT, --prefetch tree", rtt, d, loopAll)
			b.Logf("  mount peak RSS %d MiB", rss>>20)
			// Every byte as the original, through a cold mount and an
			// export over the slow link.
			m := startMountChild(b, grpcAddr(link.Addr), root)
			sameAsOriginal(b, src, m.mnt)
			m.stop()
			dest := filepath.Join(b.TempDir(), "export")
			if out, err := castoreCommand("export", "--blob-service-addr", grpcAddr(link.Addr), "--directory-service-addr", grpcAddr(link.Addr), root, dest).CombinedOutput(); err != nil {
				b.Fatalf("export: %v\n%s", err, out)
			}
			sameAsOriginal(b, src, dest)
			b.Logf("  diff -r of a cold mount and of an export of GOROOT over the link against the original: empty")
		}
		link.SetRTT(b, 0)
	}
}

// BenchmarkWANFrontend measures a frontend (castore serve) whose object
// store (MinIO) is across a 10 ms link, against the same frontend with
// MinIO on loopback: an export of src/crypto through it.
func BenchmarkWANFrontend(b *testing.B) {
	wanBench(b)
	src := filepath.Join(goroot(b), "src", "crypto")
	m := testenv.MinIO(b)
	m.SetEnv(b)
	tp := testenv.Toxiproxy(b)
	link := tp.Link(b, strings.TrimPrefix(m.Endpoint, "http://"))
	link.SetRTT(b, 10*time.Millisecond)

	s3URL := func(endpoint, prefix string) string {
		q := url.Values{}
		q.Set("endpoint", endpoint)
		q.Set("region", m.Region)
		q.Set("force_path_style", "true")
		return "objectstore+" + (&url.URL{Scheme: "s3", Host: m.Bucket, Path: "/" + prefix, RawQuery: q.Encode()}).String()
	}
	frontend := func(endpoint string) *serveChild {
		return startServeChild(b, filepath.Join(b.TempDir(), "server"),
			"--blob-service-addr", s3URL(endpoint, "blobs"),
			"--directory-service-addr", s3URL(endpoint, "dirs"))
	}
	for b.Loop() {
		root := importRoot(b, frontend(m.Endpoint).addr, src)
		// Fresh frontends, each: nothing of the tree in their memory.
		loop := exportTime(b, frontend(m.Endpoint).addr, root)
		far := frontend("http://" + link.Addr)
		wanReport(b, "export of src/crypto through a frontend, MinIO behind", 10*time.Millisecond, exportTime(b, far.addr, root), loop)
	}
}

// BenchmarkWANPrefetchDemand reads a 100 MiB file through a mount over a
// 50 MB/s link with a 10 ms round trip, once with --prefetch off and once
// while --prefetch tree warms GOROOT, mounted beside it: prefetch must
// stay behind the read a process is waiting for. It also reports the
// mount's peak RSS while tree prefetch runs.
func BenchmarkWANPrefetchDemand(b *testing.B) {
	wanBench(b)
	srv := startServeChild(b, filepath.Join(b.TempDir(), "server"))
	goRoot := importRoot(b, srv.addr, goroot(b))
	bigDir := filepath.Join(b.TempDir(), "big")
	if err := os.MkdirAll(bigDir, 0o755); err != nil {
		b.Fatal(err)
	}
	randomFile(b, filepath.Join(bigDir, "big.bin"), 100<<20, 3)
	bigRoot := importRoot(b, srv.addr, bigDir)
	link := testenv.Toxiproxy(b).Link(b, strings.TrimPrefix(srv.addr, "grpc+http://"))
	link.SetRTT(b, 10*time.Millisecond)
	link.SetBandwidth(b, 50_000_000)
	addr := grpcAddr(link.Addr)
	catBig := func(mode string) (time.Duration, int64) {
		m := startMountChild(b, addr, "", "--prefetch", mode, "--root", "go="+goRoot, "--root", "big="+bigRoot)
		start := time.Now()
		out, err := exec.Command("sh", "-c", "cat '"+filepath.Join(m.mnt, "big", "big.bin")+"' > /dev/null").CombinedOutput()
		if err != nil {
			b.Fatalf("cat: %v\n%s", err, out)
		}
		d := time.Since(start)
		if mode == "tree" {
			time.Sleep(5 * time.Second) // let prefetch run on a while, for its memory
		}
		rss := m.stop()
		for line := range strings.Lines(m.stderr.String()) {
			if strings.Contains(line, "msg=prefetch ") {
				b.Logf("  %s: %s", mode, strings.TrimSpace(line))
			}
		}
		return d, rss
	}
	for b.Loop() {
		off, _ := catBig("off")
		tree, rss := catBig("tree")
		b.Logf("demand read of 100 MiB over 50 MB/s, 10 ms: %.2fs alone, %.2fs with --prefetch tree = %.2fx; mount peak RSS %d MiB", off.Seconds(), tree.Seconds(), tree.Seconds()/off.Seconds(), rss>>20)
		b.ReportMetric(tree.Seconds()/off.Seconds(), "demand-with-prefetch/alone")
		b.ReportMetric(float64(rss>>20), "prefetch-tree-peak-RSS-MiB")
	}
}

// importTime times `castore import` of src into the store at addr.
func importTime(b *testing.B, addr, src string) time.Duration {
	b.Helper()
	start := time.Now()
	importRoot(b, addr, src)
	return time.Since(start)
}

// BenchmarkWANWrite measures imports over a link with a 10 ms round trip
// and 50 MB/s against loopback (each into a fresh server): src/crypto and
// GOROOT, a re-import of unchanged GOROOT, a 96 MiB file re-imported with
// 1 MiB changed in the middle, and GOROOT through a frontend whose MinIO
// is behind the link against one with MinIO on loopback.
func BenchmarkWANWrite(b *testing.B) {
	wanBench(b)
	gr := goroot(b)
	crypto := filepath.Join(gr, "src", "crypto")
	tp := testenv.Toxiproxy(b)
	fresh := func(slow bool) string {
		srv := startServeChild(b, filepath.Join(b.TempDir(), "server"))
		if !slow {
			return srv.addr
		}
		link := tp.Link(b, strings.TrimPrefix(srv.addr, "grpc+http://"))
		link.SetRTT(b, 10*time.Millisecond)
		link.SetBandwidth(b, 50_000_000)
		return grpcAddr(link.Addr)
	}
	rtt := 10 * time.Millisecond
	for b.Loop() {
		for _, src := range []struct{ name, dir string }{{"src/crypto", crypto}, {"GOROOT", gr}} {
			// Three pairs, loopback and slow in turn, each into a fresh
			// server; the medians are compared (a src/crypto import takes
			// 0.3 s, where one busy moment on a shared machine shows).
			var loops, slows []time.Duration
			var slowAddr string
			for range 3 {
				loops = append(loops, importTime(b, fresh(false), src.dir))
				slowAddr = fresh(true)
				slows = append(slows, importTime(b, slowAddr, src.dir))
			}
			b.Logf("import of %s: loopback %v, 10 ms link %v", src.name, loops, slows)
			loop, slow := median(loops), median(slows)
			wanReport(b, "import of "+src.name+" into a fresh server, 50 MB/s", rtt, slow, loop)
			if src.name == "GOROOT" {
				again := importTime(b, slowAddr, src.dir)
				b.Logf("%-58s rtt %-5v %8.2fs  = %5.2fx a first import over loopback (%.2fs)", "re-import of unchanged GOROOT", rtt, again.Seconds(), again.Seconds()/loop.Seconds(), loop.Seconds())
				b.ReportMetric(again.Seconds()/loop.Seconds(), "reimport-GOROOT@10ms/first-import-loopback")
			}
		}

		dir := filepath.Join(b.TempDir(), "big")
		os.MkdirAll(dir, 0o755)
		file := filepath.Join(dir, "big.bin")
		data := randomFile(b, file, 96<<20, 7)
		addr := fresh(true)
		first := importTime(b, addr, dir)
		copy(data[48<<20:], randomFile(b, filepath.Join(b.TempDir(), "patch"), 1<<20, 8))
		if err := os.WriteFile(file, data, 0o644); err != nil {
			b.Fatal(err)
		}
		second := importTime(b, addr, dir)
		b.Logf("%-58s rtt %-5v %8.2fs  = %5.2fx its first import (%.2fs)", "re-import of 96 MiB with 1 MiB changed, 50 MB/s", rtt, second.Seconds(), second.Seconds()/first.Seconds(), first.Seconds())
		b.ReportMetric(second.Seconds()/first.Seconds(), "reimport-96MiB-1MiB-changed/first")
	}
	b.Run("frontend", func(b *testing.B) {
		m := testenv.MinIO(b)
		m.SetEnv(b)
		link := tp.Link(b, strings.TrimPrefix(m.Endpoint, "http://"))
		link.SetRTT(b, rtt)
		s3URL := func(endpoint, prefix string) string {
			q := url.Values{}
			q.Set("endpoint", endpoint)
			q.Set("region", m.Region)
			q.Set("force_path_style", "true")
			return "objectstore+" + (&url.URL{Scheme: "s3", Host: m.Bucket, Path: "/" + prefix, RawQuery: q.Encode()}).String()
		}
		frontend := func(endpoint, prefix string) string {
			return startServeChild(b, filepath.Join(b.TempDir(), "server"),
				"--blob-service-addr", s3URL(endpoint, prefix+"/blobs"),
				"--directory-service-addr", s3URL(endpoint, prefix+"/dirs")).addr
		}
		for b.Loop() {
			loop := importTime(b, frontend(m.Endpoint, "a"), gr)
			slow := importTime(b, frontend("http://"+link.Addr, "b"), gr)
			wanReport(b, "import of GOROOT through a frontend, MinIO behind", rtt, slow, loop)
		}
	})
}

// median is the middle of ds (of the two middle ones, the later).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// sameAsOriginal fails unless diff -r finds no difference.
func sameAsOriginal(b *testing.B, orig, got string) {
	b.Helper()
	if out, err := exec.Command("diff", "-r", "--no-dereference", orig, got).CombinedOutput(); err != nil {
		b.Fatalf("diff -r %s %s: %v\n%.2000s", orig, got, err, out)
	}
}
