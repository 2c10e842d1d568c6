// Package memstore is the object store in process memory, for tests, and
// its URL memory://.
package memstore
