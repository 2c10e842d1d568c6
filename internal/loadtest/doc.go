// Package loadtest drives a real `castore serve` process on loopback with
// many concurrent clients mixing every RPC, verifies every answer, and
// prints latency percentiles and throughput. Under `make test` it runs
// briefly; `make loadtest` runs it at full size:
//
//	go test ./internal/loadtest -count=1 -v -timeout 30m -args -clients 200 -duration 60s
//
// TestLoadFarMinIO runs the same load with MinIO as the far store, and
// TestFaultMinIODown stops MinIO for a while during the load: calls then
// fail (never answer wrongly), the server stays up and recovers by itself,
// and afterwards everything acknowledged reads back in full.
package loadtest
