//go:build linux

package main

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore/internal/testenv"
)

// The local-disk benchmark (make bench-local): importing into the
// embedded store against restic's backup and `tar | zstd`, re-imports, a
// cold mount read against the local disk, an import while another
// process writes 1 GiB (and, to tell sharing the CPU from waiting on the
// disk, beside a process that only keeps one core busy), and how the cost grows from 10,000 to 40,000
// files. Each figure is a ratio against a baseline measured in the same
// run.
//
//	make bench-local
//	CASTORE_BENCH_LOCAL=1 go test -run '^$' -bench Local -benchtime 1x -timeout 1h -v ./cmd/castore/

// runCost runs cmd and returns its wall time and the CPU it used (user,
// system).
func runCost(b *testing.B, cmd *exec.Cmd) (wall, user, sys time.Duration) {
	b.Helper()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, errb.String())
	}
	ps := cmd.ProcessState
	return time.Since(start), ps.UserTime(), ps.SystemTime()
}

// localImport runs `castore import --data-dir dir src` as a process.
func localImport(b *testing.B, dir, src string) (wall, user, sys time.Duration) {
	return runCost(b, castoreCommand("import", "--data-dir", dir, src))
}

// resticBackup times restic's backup of src into a fresh repository: its
// wall time and CPU time (user + system).
func resticBackup(b *testing.B, src string) (wall, cpu time.Duration) {
	b.Helper()
	bin := testenv.Tool(b, "restic")
	repo := filepath.Join(b.TempDir(), "restic")
	env := append(cleanEnv(), "RESTIC_PASSWORD=castore-bench", "RESTIC_CACHE_DIR="+filepath.Join(b.TempDir(), "restic-cache"))
	init := exec.Command(bin, "init", "--repo", repo)
	init.Env = env
	runCost(b, init)
	backup := exec.Command(bin, "backup", "--quiet", "--repo", repo, src)
	backup.Env = env
	wall, user, sys := runCost(b, backup)
	return wall, user + sys
}

// randomTree writes n files of log-normal sizes around 5 KiB (at most
// 4 MiB) into a new directory of 100 subdirectories.
func randomTree(b *testing.B, n int, seed uint64) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), fmt.Sprintf("random%d", n))
	r := rand.New(rand.NewPCG(seed, 1))
	buf := make([]byte, 4<<20)
	for i := range n {
		size := int(math.Min(math.Exp(math.Log(5<<10)+r.NormFloat64()), 4<<20))
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d", i))
		if i < 100 {
			os.MkdirAll(filepath.Dir(p), 0o755)
		}
		for j := range size {
			buf[j] = byte(r.Uint32())
		}
		if err := os.WriteFile(p, buf[:size], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func BenchmarkLocal(b *testing.B) {
	if os.Getenv("CASTORE_BENCH_LOCAL") == "" {
		b.Skip("local-disk benchmark: run `make bench-local` (or set CASTORE_BENCH_LOCAL=1)")
	}
	src := goroot(b)
	for b.Loop() {
		pipe, which := baseline(b, src)
		restic, resticCPU := resticBackup(b, src)
		dir := filepath.Join(b.TempDir(), "store")
		first, user, sys := localImport(b, dir, src)
		again, _, _ := localImport(b, dir, src)
		b.Logf("baseline: %s", which)
		b.Logf("GOROOT into a fresh embedded store: %.2fs (user %.2fs, system %.2fs) = %.2fx restic backup (%.2fs), %.2fx tar | zstd (%.2fs)",
			first.Seconds(), user.Seconds(), sys.Seconds(), first.Seconds()/restic.Seconds(), restic.Seconds(), first.Seconds()/pipe.wall.Seconds(), pipe.wall.Seconds())
		b.Logf("  CPU: castore %.2fs, restic %.2fs (%.2fx), tar | zstd %.2fs (%.2fx)",
			(user + sys).Seconds(), resticCPU.Seconds(), (user+sys).Seconds()/resticCPU.Seconds(), pipe.cpu.Seconds(), (user+sys).Seconds()/pipe.cpu.Seconds())
		b.ReportMetric((user+sys).Seconds()/resticCPU.Seconds(), "import-cpu/restic-cpu")
		b.Logf("re-import of unchanged GOROOT: %.2fs = %.2fx the first", again.Seconds(), again.Seconds()/first.Seconds())
		b.ReportMetric(first.Seconds()/restic.Seconds(), "import/restic")
		b.ReportMetric(first.Seconds()/pipe.wall.Seconds(), "import/pipeline")
		b.ReportMetric(again.Seconds()/first.Seconds(), "reimport/import")

		// An import while another process writes 1 GiB to the same file
		// system.
		quiet, _, _ := localImport(b, filepath.Join(b.TempDir(), "quiet"), src)
		writer := exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(b.TempDir(), "noise"), "bs=1M", "count=1024", "conv=fsync")
		if err := writer.Start(); err != nil {
			b.Fatal(err)
		}
		writerStart := time.Now()
		noisy, _, _ := localImport(b, filepath.Join(b.TempDir(), "noisy"), src)
		writer.Wait()
		writerTook := time.Since(writerStart)
		writerCPU := writer.ProcessState.UserTime() + writer.ProcessState.SystemTime()
		b.Logf("import with another process writing 1 GiB meanwhile: %.2fs = %.2fx without (%.2fs)", noisy.Seconds(), noisy.Seconds()/quiet.Seconds(), quiet.Seconds())
		b.Logf("  the writer: %.2fs, of it %.2fs CPU (%.0f%% of a core)", writerTook.Seconds(), writerCPU.Seconds(), 100*writerCPU.Seconds()/writerTook.Seconds())
		b.ReportMetric(noisy.Seconds()/quiet.Seconds(), "import-noisy/quiet")
		// The same beside a process that only keeps one core busy (no
		// I/O): how much of the above is sharing the CPU.
		burner := exec.Command("sh", "-c", "while :; do :; done")
		if err := burner.Start(); err != nil {
			b.Fatal(err)
		}
		busy, _, _ := localImport(b, filepath.Join(b.TempDir(), "busy"), src)
		burner.Process.Kill()
		burner.Wait()
		b.Logf("import beside a process keeping one core busy (no I/O): %.2fs = %.2fx without", busy.Seconds(), busy.Seconds()/quiet.Seconds())
		b.ReportMetric(busy.Seconds()/quiet.Seconds(), "import-cpubusy/quiet")

		// How the cost grows.
		small, large := randomTree(b, 10_000, 1), randomTree(b, 40_000, 2)
		t10, _, _ := localImport(b, filepath.Join(b.TempDir(), "r10"), small)
		t40, _, _ := localImport(b, filepath.Join(b.TempDir(), "r40"), large)
		b.Logf("10,000 random files: %.2fs; 40,000: %.2fs = %.2fx", t10.Seconds(), t40.Seconds(), t40.Seconds()/t10.Seconds())
		b.ReportMetric(t40.Seconds()/t10.Seconds(), "import-40k/10k")

		// A cold tar through a mount of the embedded store (served on
		// loopback) with a fresh cache, against the local disk.
		srv := startServeChild(b, filepath.Join(b.TempDir(), "server"))
		root := importRoot(b, srv.addr, src)
		disk := tarTime(b, src)
		m := startMountChild(b, srv.addr, root)
		cold := tarTime(b, m.mnt)
		m.stop()
		b.Logf("cold tar of GOROOT through a mount over loopback, fresh cache: %.2fs = %.2fx the local disk (%.2fs)", cold.Seconds(), cold.Seconds()/disk.Seconds(), disk.Seconds())
		b.ReportMetric(cold.Seconds()/disk.Seconds(), "mount-cold/disk")
	}
}
