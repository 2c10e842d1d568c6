package castore

import "context"

// Deferred durability. Every write a BlobService acknowledges is
// durable by default: it survives a crash of the process and of the
// machine. A caller that acknowledges nothing itself until its whole job
// is done (a local import, which prints a root only at the end) may ask a
// service that implements Syncer for its writes to be made durable
// together instead, at one Sync, rather than one by one: on a local disk
// that is one sync where there were thousands.
//
// Writes made with a context from DeferSync may return before they are
// durable, in a store that supports it (the pack store of the embedded
// default); every other store stays durable per write and ignores it.
// They are readable at once either way. After a crash before Sync, a
// deferred write may be lost, never torn: a store that defers recovers
// the writes made before its last sync.

type deferSyncKey struct{}

// DeferSync returns a context under which writes to a Syncer's store may
// be made durable later, by its Sync.
func DeferSync(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferSyncKey{}, true)
}

// SyncDeferred reports whether ctx is from DeferSync.
func SyncDeferred(ctx context.Context) bool {
	v, _ := ctx.Value(deferSyncKey{}).(bool)
	return v
}

// Syncer is implemented by blob services whose store may defer the
// durability of writes made under DeferSync.
//
// A service that wraps another implements Syncer only by forwarding it
// to every store it writes to (or by being durable per write itself):
// it never refuses it, since a refusal would leave deferred writes
// unsynced. A wrapper that cannot forward does not implement it, and a
// caller then does not defer.
type Syncer interface {
	// Sync returns once every write made before it is durable, or with
	// the error that keeps one from being so. Nil for a store with
	// nothing deferred.
	Sync(ctx context.Context) error
}
