// Package reftest is the conformance suite every castore.RefService runs:
// memory, embedded, object stores (memory, file, S3 on MinIO, GCS on
// fake-gcs-server), and gRPC clients. It checks the contract written on
// castore.RefService: names and prefixes validated, not-found cases,
// Updated stamped by the service, expiry kept, listing in name order, and
// every conditional Set and Delete, alone and under 32 concurrent callers.
package reftest
