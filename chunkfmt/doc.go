// Package chunkfmt is the chunk format that the chunked store, the gRPC
// client and server, and the mount share: how a chunk is compressed and
// checked (Encoder, DecodeChunk, with the bounds that stop a
// decompression bomb), how a blob index is encoded (EncodeIndex,
// DecodeIndex), where each lives in an object store (ChunkKey, IndexKey),
// the reader of a blob made of chunks fetched one by one
// (NewChunkReader), and how a blob is cut into chunks (Cutter, FastCDC at
// DefaultAvgChunkSize unless told otherwise). It imports only the root
// package and castorepb, so that a gRPC client needs no store to read
// chunks, and cuts a blob it uploads as a store would.
package chunkfmt
