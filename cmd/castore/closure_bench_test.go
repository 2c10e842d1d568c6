package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore/internal/testenv"
)

// BenchmarkServeMinIOGOROOT imports $(go env GOROOT) through `castore
// serve` with blobs and directories on MinIO, three times: into an empty
// store, again into the same server, and again after the server restarts
// (it remembers no blob then, so a check of each costs requests). For each
// it reports the client's wall time, the server's CPU time, and the
// object store calls the server made, by operation: what the check that a
// closure's blobs are present (issue 19) costs on top of the import.
//
//	CASTORE_BENCH_E2E=1 go test -run '^$' -bench ServeMinIOGOROOT -benchtime 1x ./cmd/castore/
func BenchmarkServeMinIOGOROOT(b *testing.B) {
	testenv.E2EBench(b)
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatal(err)
	}
	goroot := strings.TrimSpace(string(out))
	for range b.N {
		m := testenv.MinIO(b)
		m.SetEnv(b)
		dataDir := b.TempDir()
		start := func() (*serveChild, string) {
			metrics := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
			s := startServeChild(b, dataDir,
				"--blob-service-addr", "objectstore+"+m.URL("blobs"),
				"--directory-service-addr", "objectstore+"+m.URL("directories"),
				"--metrics-listen", metrics)
			return s, metrics
		}
		srv, metrics := start()
		for _, run := range []string{"first", "second", "restarted"} {
			if run == "restarted" {
				srv.cmd.Process.Kill()
				<-srv.exited
				srv.exited <- nil // for the cleanup
				srv, metrics = start()
			}
			before := objectStoreCalls(b, metrics)
			d, c, srvCPU := importProcess(b, srv.addr, srv.cmd.Process.Pid, goroot)
			if d == "" {
				b.Fatal("no root printed")
			}
			after := objectStoreCalls(b, metrics)
			var ops []string
			total := 0.0
			for op, n := range after {
				if n -= before[op]; n > 0 {
					ops = append(ops, fmt.Sprintf("%s %.0f", op, n))
					total += n
				}
			}
			slices.Sort(ops)
			b.ReportMetric(c.wall.Seconds(), run+"-s")
			b.ReportMetric(srvCPU.Seconds(), run+"-server-cpu-s")
			b.ReportMetric(total, run+"-calls")
			b.Logf("%s import: client %v, server %.2f CPU-s; object store calls %.0f: %s", run, c, srvCPU.Seconds(), total, strings.Join(ops, ", "))
		}
	}
}

// objectStoreCalls scrapes the server's object store calls, by op.
func objectStoreCalls(b *testing.B, addr string) map[string]float64 {
	b.Helper()
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil {
				text = string(body)
				break
			}
			err = rerr
		}
		if time.Now().After(deadline) {
			b.Fatalf("scrape %s: %v", addr, err)
		}
	}
	calls := map[string]float64{}
	for line := range strings.Lines(text) {
		if !strings.HasPrefix(line, "castore_objectstore_calls_total{") {
			continue
		}
		_, rest, _ := strings.Cut(line, `op="`)
		op, _, _ := strings.Cut(rest, `"`)
		fields := strings.Fields(line)
		v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
		calls[op] += v
	}
	return calls
}
