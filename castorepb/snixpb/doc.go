// Package snixpb is the snix.castore.v1 wire API (generated from
// proto/snix/castore/v1) and its conversions to the tvix.castore.v1 types
// of castorepb and to the castore model. snix renamed tvix's package and
// node messages but kept their field numbers, so a Directory has the same
// canonical encoding and digest under either name; the conversions copy
// fields and share the byte slices.
package snixpb
