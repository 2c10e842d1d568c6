// Package objectstore is the contract castore's object stores keep and
// what they all share. Everything above it (chunks, blob indexes,
// directory bundles) sees only the small Store interface.
//
//   - store.go: Store, and the errors every backend returns.
//   - portable.go: Portable, the Store each backend's constructor returns;
//     it checks keys (key.go), prefixes and contexts once for all of them.
//   - registry.go: a Registry opens a store from a URL with the backends a
//     program names, each owning its scheme.
//   - instrumented.go, deadline.go: decorators that wrap any Store.
//   - conditional.go: Conditional, compare-and-swap on one object (the
//     tag store's conditional Set and Delete).
//   - touch.go: optional capabilities garbage collection needs: Toucher
//     (refresh an object's time), Copier (server-side copy), Compacter
//     (pack compaction) and BatchDeleter, each with its function that refuses with
//     castore.ErrUnsupported.
//   - heads.go: IndexedHeads, declared by a store that answers Head from
//     memory (packstore), so that callers ask Head instead of reading an
//     object to learn that it exists; the decorators forward it.
//
// The backends are one package each: s3store (S3 and S3-compatible
// services), gcsstore (Google Cloud Storage), filestore (a local
// directory, and the size-bounded LRU cache on one), memstore (process
// memory, for tests) and packstore (objects appended to pack files on a
// local disk). compose names the ones a program opens by URL. Every backend and decorator passes the
// conformance suite in objectstore/storetest, S3 against MinIO and GCS
// against fake-gcs-server.
package objectstore
