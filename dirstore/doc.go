// Package dirstore holds castore's own DirectoryService implementations:
// Memory, Embedded (one bbolt file), Bundles (closures as objects on an
// objectstore.Store, tvix's layout) and Cache (a near store in front of a
// far one). The closure algorithms they share are in package closure.
package dirstore
