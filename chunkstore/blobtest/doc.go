// Package blobtest is the conformance suite every castore.BlobService
// runs: memory, chunked stores on every object store, near/far
// combinations, and gRPC clients. It checks the contract of
// castore.BlobService and each optional capability a service claims.
package blobtest
