package main

import (
	"context"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// BenchmarkFleetChurn is TestFleet's kill test at length (make
// bench-fleet): three frontends on one MinIO under 200 clients for
// CASTORE_FLEET_SECONDS (default 60); every 10 s one frontend in turn is
// killed with SIGKILL (every fourth time told to stop with SIGTERM
// instead, and drained) and started again 3 s later on its address. No
// read may fail, a write only with UNAVAILABLE, and every acknowledged
// write must read back whole. It reports calls/s, the failed writes, and
// the longest a restarted frontend waited for its first call.
func BenchmarkFleetChurn(b *testing.B) {
	if os.Getenv("CASTORE_BENCH_FLEET") == "" {
		b.Skip("fleet benchmark: run `make bench-fleet` (or set CASTORE_BENCH_FLEET=1)")
	}
	total := 60 * time.Second
	if v := os.Getenv("CASTORE_FLEET_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("CASTORE_FLEET_SECONDS=%q: want a positive number of seconds", v)
		}
		total = time.Duration(n) * time.Second
	}
	fs, addr := startFleet(b, 3)
	for b.Loop() {
		l := newFleetLoad(b, addr)
		ctx, cancel := context.WithCancel(b.Context())
		start := time.Now()
		wait := l.run(ctx, b, addr, fleetClients, 20*time.Millisecond)
		var rebalances []time.Duration
		kills, drains := 0, 0
		for i := 0; time.Since(start)+10*time.Second <= total; i++ {
			time.Sleep(7 * time.Second)
			v := fs[i%len(fs)]
			if i%4 == 3 {
				drains++
				if err := v.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					b.Fatal(err)
				}
				if code := v.wait(b, 30*time.Second); code != 0 {
					b.Errorf("serve exited %d after SIGTERM", code)
				}
			} else {
				kills++
				if err := v.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					b.Fatal(err)
				}
				<-v.exited
				v.exited <- nil // for its cleanup
			}
			time.Sleep(3 * time.Second)
			v.start(b)
			readyAt := time.Now()
			for v.calls(b) == 0 {
				if time.Since(readyAt) > 4*fleetConnAge {
					b.Errorf("restarted frontend %s got no call within %v", v.listen, 4*fleetConnAge)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			rebalances = append(rebalances, time.Since(readyAt))
		}
		if d := total - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		cancel()
		wait()
		elapsed := time.Since(start)
		calls := l.reads.Load() + l.writes.Load()
		nr, rerrs := l.summary(&l.readErrs)
		nw, werrs := l.summary(&l.writeErrs)
		slices.Sort(rebalances)
		b.Logf("%d clients, %.0f s, %d kills and %d drains: %d reads, %d writes, %.0f calls/s; failed reads %d [%s]; failed writes %d [%s]; first call of a restarted frontend after %v",
			fleetClients, elapsed.Seconds(), kills, drains, l.reads.Load(), l.writes.Load(), float64(calls)/elapsed.Seconds(), nr, rerrs, nw, werrs, rebalances)
		b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
		b.ReportMetric(float64(nw), "failed-writes")
		if len(rebalances) > 0 {
			b.ReportMetric(rebalances[len(rebalances)-1].Seconds(), "max-rebalance-s")
		}
		if nr > 0 {
			b.Errorf("%d reads failed: %s", nr, rerrs)
		}
		for c := range l.writeErrs.n {
			if c != codes.Unavailable {
				b.Errorf("writes failed with %s: %s", c, werrs)
			}
		}
		l.verify(b, addr)
		b.Logf("%d acknowledged writes read back whole", len(l.acked))
	}
}
