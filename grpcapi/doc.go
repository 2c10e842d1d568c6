// Package grpcapi serves any castore.BlobService and castore.DirectoryService
// over gRPC, and provides clients of the same API that are themselves a
// BlobService and a DirectoryService, verifying everything they receive.
// The API is tvix.castore.v1, so tvix clients and servers talk to it, plus
// castore's extension castore.v1.ChunkService (chunks as stored, one or
// many a call) for blob services that keep chunks compressed; a client
// falls back to tvix.castore.v1 alone on a server without it. The server
// answers snix.castore.v1 too: the same two services under snix's names,
// and snix's BlobStoreService and ChunkStoreService.
//
// It imports no store (only the root, closure, castorepb, snixpb and
// chunkfmt), so a program that only talks to a server links no cloud SDK.
//
//	register.go          Register: the servers of two services, under every name; ServerOptions
//	blob_server.go       BlobServer (Stat, Read, Put) and ChunkServer (ReadCompressed)
//	blob_client.go       BlobClient: verified reads (compressed where it can), streamed writes
//	batch.go             ReadCompressedBatch, server and client (ReadCompressedChunks, ReadBlobs)
//	directory_server.go  DirectoryServer (Get, recursive Get, Put through one putter)
//	directory_client.go  DirectoryClient: closures checked as they arrive
//	snix_server.go       snix.castore.v1's BlobService and DirectoryService over tvix's servers
//	snix_blobstore.go    BlobStoreServer: blobs as chunk lists, PutBlob verified
//	snix_chunkstore.go   ChunkStoreServer: chunks by digest, uploaded whole
//	upload.go            the end of an upload stream, for both clients' writers
//	status.go            the one place castore errors become status codes, and back
//	dial.go              Dial: grpc+http, grpc+https and grpc+unix addresses, lists of frontends
//	balance.go           round_robin over every frontend, health checks, the retry policy of reads
//	retry.go             reads whose stream broke after it began, started again
//	roots.go             the roots a directory client saw directories below, to find them there
//	tls.go               ServerTLS: certificates reloaded when renewed, mutual TLS
//	auth.go              bearer tokens, read and write roles, read-only servers
package grpcapi
