// Package closure holds the algorithms over the directory DAG that every
// layer needs, in one place: checking a closure as a putter receives it
// (leaves first) and as a reader receives it (root first), ordering one
// leaves first or breadth-first, the putter every store builds on, and
// reading a closure through any castore.DirectoryService to walk it or to
// descend a path in it.
//
// It imports only the root package, so that stores (dirstore, bigtable),
// clients (grpcapi) and users of the contracts alone (ingest, fusefront,
// cmd) share it rather than write it again.
package closure
