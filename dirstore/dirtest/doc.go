// Package dirtest is the conformance suite every castore.DirectoryService
// runs: memory, embedded, bundles, caches, Bigtable, and gRPC clients.
package dirtest
