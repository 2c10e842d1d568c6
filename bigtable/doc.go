// Package bigtable is a castore.DirectoryService on Cloud Bigtable, in
// tvix-castore's layout, so that either can read what the other wrote:
//
//   - one row per directory, its key the directory's digest in lower-case
//     hex;
//   - in that row, one cell in the configured column family whose
//     qualifier is the same hex digest and whose value is the canonical
//     protobuf encoding of the Directory;
//   - a cell is at most 10 MiB (Bigtable's advice for cells): larger
//     directories are refused.
//
// Reads ask only for that family and qualifier (other cells in the row are
// ignored, as tvix does, so that a later layout can add some) and verify the
// value's BLAKE3 digest before decoding it.
//
// Unlike the reference, GetRecursive reads each breadth-first level of a
// closure with one batched ReadRows rather than one request per directory,
// and a putter writes its closure in batches (MutateRows) rather than one
// request per directory. See Service.NewPutter for what "insert only when
// absent" means for a batched write.
//
// The service honours BIGTABLE_EMULATOR_HOST, as every Cloud Bigtable client
// does.
package bigtable
