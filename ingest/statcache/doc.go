// Package statcache is an ingest.FileCache kept in a bbolt file: it maps a
// file's absolute path and lstat (device, inode, size, modification and
// change times) to the digest of its contents, so that re-importing an
// unchanged tree stats its files instead of reading them.
//
// Trust. A hit is used only if every recorded stat field matches, and the
// importer uses it only if the blob service still has the blob. An entry
// is recorded only for a file whose modification and change times are at
// least a second older than the start of the import that read it: a file
// written while (or just before) it was read could otherwise change again
// within the file system's timestamp granularity and keep a matching stat
// (git's "racily clean" problem). The change time cannot be set by a user,
// so restoring a modification time after editing a file does not hide the
// edit. What it cannot see is a file changed behind the file system's back
// (a raw block device write); `castore import --stat-cache off` reads
// everything.
//
// Life cycle. Open loads nothing; Lookup reads the file. Records and hits
// are held in memory until Commit, which, in one transaction, replaces
// every entry under the imported root with those of this import, so
// entries of deleted files do not pile up. An import that fails commits
// nothing. A cache file that cannot be decoded entry by entry is a miss
// there, not an error.
package statcache
