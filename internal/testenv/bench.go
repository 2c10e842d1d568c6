package testenv

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// CPUTime is the user and system CPU time this process has used so far
// (its goroutines and the kernel's work for its syscalls). Getrusage of
// the process itself cannot fail but for a bug, which panics.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic("getrusage: " + err.Error())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// E2EBench skips an end-to-end benchmark unless CASTORE_BENCH_E2E is set,
// as `make bench-e2e` does: they move gigabytes and take minutes, so a
// plain `go test -bench .` over the module leaves them out.
func E2EBench(b *testing.B) {
	b.Helper()
	if os.Getenv("CASTORE_BENCH_E2E") == "" {
		b.Skip("end-to-end benchmark: run `make bench-e2e` (or set CASTORE_BENCH_E2E=1)")
	}
}
