// Package chunkfmt is the chunk format that the chunked store, the gRPC
// client and server, and the mount share: how a chunk is compressed and
// checked (Encoder, DecodeChunk, with the bounds that stop a
// decompression bomb), how a blob index is encoded (EncodeIndex,
// DecodeIndex), where each lives in an object store (ChunkKey, IndexKey),
// and the reader of a blob made of chunks fetched one by one
// (NewChunkReader). It imports only the root package and castorepb, so
// that a gRPC client needs no store to read chunks.
package chunkfmt
