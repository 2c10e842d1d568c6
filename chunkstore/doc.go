// Package chunkstore holds castore's BlobService implementations and the
// near/far cache that combines two of them. The chunk format they share
// with the gRPC client and the mount is in chunkfmt; the optional
// capabilities they implement are declared in the root package.
//
// One job per file:
//
//	memory.go              Memory: blobs in memory, optionally an LRU cache bounded by bytes
//	chunked.go             Chunked: blobs cut into chunks on an objectstore.Store; Has, Chunks
//	chunked_layout.go      where its chunks lie: tvix's chunks/b3/ or snix's chunk/b3/, read alike
//	chunked_read.go        its reads: verified chunks, the blob reader, ReadChunk
//	chunked_write.go       its write pipeline: cutting (chunkfmt.Cutter), uploading in parallel, the index; PutIndex
//	chunked_repair.go      Repair: a damaged or missing chunk or index fetched, verified, from another store
//	compressed.go          its chunks handed over and taken compressed
//	freshen.go             Freshen: objects a write relies on touched once older than half gc's grace
//	stat.go                StatBlobs: the sizes of many blobs in one pass (closure checks, verify)
//	missing.go             Missing: which of many blobs are not stored, many asked at once
//	putlimit.go            the bound on puts in flight from all writers, in count and bytes
//	verify.go              Verify: every chunk and index read and checked (castore verify)
//	known.go               the bounded set of chunks known to be stored (no request for them)
//	lazychunk.go           a chunk compressed only when a store reads it
//	bufpool.go             reusable buffers for compressed chunks being read
//	metrics.go             the OpenTelemetry counters of both stores
//	nearfar.go             NearFar: the read-through cache of a far store in a near one
//	nearfar_chunk.go       one chunk read through: near, else far, written into near
//	nearfar_compressed.go  chunks passed from far to near compressed, as far stores them
//	nearfar_fill.go        a blob's index written into near once all its chunks are there
//	nearfar_shared.go      one fetch from far for concurrent readers of the same chunk
//	nearfar_write.go       the write policy: near, far or both (mirrored)
//	nearfar_repair.go      a near copy that fails verification replaced from far (caches heal)
//	indexingfar.go         NewIndexingFar: a far that writes each chunk list it answers into near
//	prefetch.go            NearFar.Prefetch: small blobs brought into near in batches, behind demand reads
package chunkstore
