// Package packstore is an objectstore.Store for a local disk that costs a
// small fraction of a file per object: objects are appended to pack
// files (64 MiB each by default) in one directory, and found through an
// index kept in memory. The file-per-object store (filestore) creates an
// inode, and with its sharded layout nearly a directory too, for every
// chunk; on a busy ext4 that costs up to a millisecond of CPU each, where
// an append costs microseconds.
//
// A pack is a sequence of records, each checked by a CRC-32C (see
// format.go). A pack that is full, or open when the store closes, is
// sealed with a trailer listing its records, so opening a store reads
// only trailers; a pack without one (the store did not close) is read
// record by record and cut after its last whole record.
//
// Durability. By default a Put is acknowledged only once its record is on
// disk: writers that wait at once share one fsync of the pack (group
// commit), and a pack's trailer and a new pack's name are synced before
// they count. A crash of the process or the machine then loses only
// writes that were never acknowledged; the torn tail they leave is cut
// off when the store opens. A write under castore.DeferSync (a local
// import, which acknowledges nothing before its root) does not wait: it
// is readable at once and durable at the next Sync (objectstore.Syncer),
// or when its pack is sealed; a writer that does not defer and finds an
// object a deferred write stored waits for that object's sync before it
// is told the object is there. A full pack is sealed and synced in the
// background, not under the store's lock; Sync and Close wait for it, and
// writers of its records share that sync. A failed sync of a pack stays
// failed for every later wait (a second fsync may succeed though the
// first one's writes are lost). With Options.NoSync (caches) nothing
// waits for the disk: a crash loses recent objects, which is a miss.
//
// Heads. The index answers Head from memory, and the store says so
// (objectstore.IndexedHeads): a chunk store asks Head where it would
// otherwise read an object to learn that it exists.
//
// Caches. With Options.MaxBytes the store drops its oldest pack whole
// once it is over the bound; an object read from the older half of the
// packs is written again at the head first, so what is read stays
// (a log-structured cache with reinsertion). Without a bound nothing is
// ever reclaimed: a deleted object's bytes stay in its pack until a
// future compaction.
//
// Memory. The index holds one entry per object (its key and where its
// bytes lie): about 150 bytes each, so 1.5 GiB for ten million objects.
//
// One process at a time: Open takes an exclusive lock on the directory.
package packstore
