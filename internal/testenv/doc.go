// Package testenv starts the real servers castore's tests run against
// (MinIO for S3, fake-gcs-server for GCS, the Bigtable emulator, and
// toxiproxy for links with latency, bandwidth limits and cuts) from the
// repository's bin/ directory, which `make tools` fills with pinned
// versions. A missing tool fails the test with that hint; tests never skip
// for want of a server. It also holds the small helpers benchmarks share
// (CPU time, the switch of the end-to-end ones).
//
// Servers bind 127.0.0.1 on a free port, keep their data in t.TempDir()
// (the Bigtable emulator keeps it in memory), and are killed when the test
// ends.
package testenv
