// Package filestore is the object store on a local directory, in the
// layout tvix's object_store local backend shares (key a/b is the file
// root/a/b), with its file:// URLs:
//
//	file:///abs/path[?sync=group|each|none]
//
// Besides the store itself (store.go, with its group commit in
// groupsync.go) it holds LRU (lru.go), a store kept within a size bound,
// for caches on local disk.
package filestore
