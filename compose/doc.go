// Package compose builds castore services from URLs and from a YAML
// configuration that names services and wires combinators together, as
// tvix's composition does:
//
//	blobservices:
//	  near: {type: memory}
//	  far:  {type: objectstore, url: "s3://bucket/prefix?region=eu-west-1"}
//	  default: {type: combined, near: near, far: far}
//	directoryservices:
//	  near: {type: embedded, path: /var/cache/castore/dirs.db}
//	  far:  {type: objectstore, url: "gs://bucket/prefix"}
//	  default: {type: cache, near: near, far: far}
//
// Unknown keys, unknown types, dangling references and cycles are errors
// that name them. The types are explicit entries in a Registry
// (DefaultRegistry holds castore's own, defaults.go; the mount's disk
// cache, local_cache, is localcache.go), not init() side effects.
package compose
