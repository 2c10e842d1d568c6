// Package storetest is the conformance suite of objectstore.Store, and
// the benchmarks every backend shares. Every backend's tests call Run, so
// memory, file, packs, S3 (against MinIO) and GCS (against
// fake-gcs-server) are held to one contract:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) objectstore.Store { return newEmptyStore(t) })
//	}
package storetest
