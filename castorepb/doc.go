// Package castorepb holds the generated Go types of the tvix.castore.v1
// protocol and castore's one extension, castore.v1.ChunkService
// (regenerate from ../proto with `make proto`), and their conversions to
// and from the castore model: directories, nodes and chunk lists. It is
// the only place the model is converted to or from the wire (snixpb,
// below it, converts snix's names through these). Conversions from the
// wire validate every rule and say which entry broke which.
package castorepb
