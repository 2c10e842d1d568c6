// Package fusefront is a read-only FUSE filesystem over a BlobService and a
// DirectoryService, behaving as tvix-castore's does.
//
// The mount shows one directory (Root.Node) or named roots (Root.Named),
// which are listed only with Options.ListRoot; otherwise the root can only
// be looked up in by name. Directories are fetched on the first lookup or
// readdir that needs them, so stat of an entry never costs a fetch. Files
// with the same content (and executable bit), symlinks with the same target
// and directories with the same digest share one inode number. Directories
// and executables are 0555, other files and symlinks 0444, everything is
// owned by 0:0 with all times at the epoch; sizes come from the nodes.
// Reads are ranged reads (ReadAt) on a BlobReader shared by every read of
// the blob (a few idle ones stay open), which fetches the chunks a read
// needs and a bounded number ahead. The kernel keeps file contents,
// listings, attributes and entries cached, since nothing ever changes, and
// is told not to send opens, releases and flushes of files at all (FUSE's
// no-open mode), so a warm file costs no request. Every write is refused
// with EROFS.
//
// With Options.Prefetch (dir, the default, or tree), the small files of a
// directory's subtree (or of the whole tree) are fetched into the cache
// in batches before they are read, when the blob service is a
// castore.Prefetcher (the mount's near/far cache). Once a directory is
// listed (or a file looked up) and the cache holds a small file's blob,
// its contents are put into the kernel's page cache (FUSE's notify
// store), read through the cache and verified like any read: reading it
// then costs no request at all, and a tar of a prefetched tree waits on
// the mount only for its listings and its large files.
//
// A directory or blob missing from the stores is EIO on the access that
// needs it, logged with its digest. Store calls run under the mount's own
// context, so an interrupted request returns EINTR at once while the fetch
// it started completes and is reused by the retry.
package fusefront
