// Package castore is the model and the contracts of castore, a
// content-addressed store for files and directory trees, wire- and
// storage-compatible with tvix-castore. It imports nothing else of
// castore's: every other package builds on it.
//
// The model: Digest (BLAKE3-256), Node (a file, directory or symlink,
// without a name), Directory (named nodes, always valid, with its
// canonical protobuf encoding and digest), PathComponent and Path, and the
// errors callers test with errors.Is: ErrNotFound, ErrInvalid (every
// validation rule, each a *ValidationError naming the entry), ErrCorrupt
// and ErrUnsupported.
//
// The contracts (services.go): BlobService stores blobs by digest and
// DirectoryService directories, with DirectoryPutter for whole closures.
// Stores, caches of two stores and clients of a remote store all
// implement them, so they stack. The optional capabilities of a
// BlobService, such as handing over a chunk as stored or reading many in
// one call, are the interfaces in capabilities.go and batch.go; call them
// through the functions beside them (ReadCompressedChunk, ReadBlobs, ...),
// which refuse with ErrUnsupported for a service without one.
//
// docs/design.md in the repository is the tour: the packages, their
// dependency rules, and how a write and a read flow through them.
package castore
