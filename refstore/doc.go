// Package refstore holds castore's RefService implementations, the stores
// of tags (named roots): Memory; Embedded, one bbolt file (the local
// default keeps DATA_DIR/refs.db); and ObjectStore, one object per tag
// under refs/ on any objectstore.Store, its conditional Set and Delete
// made atomic by the store's compare-and-swap (objectstore.Conditional).
// RequireComplete wraps any of them so that Set refuses a root whose
// closure the directory and blob services do not hold completely.
//
// Each conditional call is a compare-and-swap: read the current value
// with its version, check the expectation (castore.Expect.Holds), write
// or delete only if the version is still the one read. A writer that
// loses the race reads again and decides again, so of many callers
// expecting the same value exactly one succeeds and the others see the
// winner's value and fail with castore.ErrConflict. Memory holds a mutex
// and Embedded a bolt write transaction instead.
//
// Tags are stored as castore.v1.TagRecord (proto/castore/v1/refs.proto),
// version 1; a reader refuses a version it does not know, and any stored
// bytes that do not decode to a valid tag of the key's name are
// castore.ErrCorrupt.
package refstore
