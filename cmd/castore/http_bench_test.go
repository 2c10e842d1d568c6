//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/internal/testenv"
)

// BenchmarkE2EHTTPGet1GiB reads a 1 GiB file of random bytes from
// `castore serve --http-listen` (a child process on loopback) two ways in
// the same run, three times each, alternating: GET over HTTP (Go's
// client, and curl for comparison) and the gRPC client reading the blob
// (castore.OpenSized, as castore cat and the mount read). Target: HTTP
// at least 0.8 times the gRPC client's rate, the best runs compared.
//
//	make bench-e2e
//	CASTORE_BENCH_E2E=1 go test -run '^$' -bench E2EHTTPGet1GiB -benchtime 1x ./cmd/castore/
func BenchmarkE2EHTTPGet1GiB(b *testing.B) {
	testenv.E2EBench(b)
	const size = 1 << 30
	dataDir := b.TempDir()
	src := filepath.Join(b.TempDir(), "tree")
	randomFile(b, filepath.Join(src, "big.bin"), size, 23)
	d, _ := importInProcess(b, dataDir, src)
	root, err := castore.ParseDigest(d)
	if err != nil {
		b.Fatal(err)
	}
	web := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	srv := startServeChild(b, dataDir, "--http-listen", web)
	ctx := context.Background()
	svcs, err := compose.Open(ctx, compose.DefaultRegistry(), compose.Options{BlobServiceAddr: srv.addr, DirectoryServiceAddr: srv.addr})
	if err != nil {
		b.Fatal(err)
	}
	defer svcs.Close()
	dir, err := svcs.Directories.Get(ctx, root)
	if err != nil {
		b.Fatal(err)
	}
	node, _ := dir.Lookup("big.bin")
	url := "http://" + web + "/b3/" + root.Hex() + "/big.bin"

	viaHTTP := func() time.Duration {
		start := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("GET: %d bytes, %v", n, err)
		}
		return time.Since(start)
	}
	viaGRPC := func() time.Duration {
		start := time.Now()
		r, err := castore.OpenSized(ctx, svcs.Blobs, node.Digest, node.Size)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil || n != size {
			b.Fatalf("gRPC read: %d bytes, %v", n, err)
		}
		return time.Since(start)
	}
	viaCurl := func() time.Duration {
		start := time.Now()
		if out, err := exec.Command("curl", "-sS", "-o", "/dev/null", url).CombinedOutput(); err != nil {
			b.Fatalf("curl: %v: %s", err, out)
		}
		return time.Since(start)
	}
	_, curlErr := exec.LookPath("curl")
	b.ResetTimer()
	for range b.N {
		best := map[string]time.Duration{}
		keep := func(name string, d time.Duration) {
			if best[name] == 0 || d < best[name] {
				best[name] = d
			}
		}
		for range 3 {
			keep("http", viaHTTP())
			keep("grpc", viaGRPC())
			if curlErr == nil {
				keep("curl", viaCurl())
			}
		}
		mbs := func(d time.Duration) float64 { return size / d.Seconds() / (1 << 20) }
		ratio := best["grpc"].Seconds() / best["http"].Seconds()
		b.ReportMetric(mbs(best["http"]), "http-MiB/s")
		b.ReportMetric(mbs(best["grpc"]), "grpc-MiB/s")
		b.ReportMetric(ratio, "http/grpc")
		var extra []string
		if curlErr == nil {
			b.ReportMetric(mbs(best["curl"]), "curl-MiB/s")
			extra = append(extra, "curl "+fmtRate(mbs(best["curl"])))
		}
		b.Logf("1 GiB, the best of 3: HTTP (Go client) %s, gRPC client %s: HTTP = %.2f x gRPC (target >= 0.8); %s",
			fmtRate(mbs(best["http"])), fmtRate(mbs(best["grpc"])), ratio, strings.Join(extra, ", "))
	}
}

func fmtRate(mbs float64) string { return fmt.Sprintf("%.0f MiB/s", mbs) }
