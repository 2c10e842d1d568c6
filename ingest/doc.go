// Package ingest puts filesystem trees and tar archives into a castore
// BlobService and DirectoryService, and gets them out again: import
// (ImportPath, ImportTar), export (ExportDir, ExportTar) and Copy between
// stores. It needs only the root contracts and closure, so it works on any
// store, local or remote.
//
// Every importer builds the same in-memory tree of the entries it meets,
// uploads file contents as blobs (many at once, with bounded memory), and
// finally puts the directories through one putter, leaves first, so that a
// failure anywhere leaves no root behind. Export and copy read the whole
// closure first (closure.Read), then the files, the small ones read ahead
// in batches where the store can (castore.BlobBatchReader).
package ingest
