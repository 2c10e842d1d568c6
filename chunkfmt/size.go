package chunkfmt

import (
	"github.com/klauspost/compress/zstd"
)

// ContentSize returns the size chunk object comp decompresses to, as its
// zstd frame declares it, if comp is exactly one frame that declares one
// (our encoder's do, but for chunks of a few hundred bytes): it reads the
// frame header and walks the block headers, not the data. The size is
// the frame's claim, unchecked until DecodeChunk decompresses it; a store
// records it for an object it takes already checked.
func ContentSize(comp []byte) (int64, bool) {
	var h zstd.Header
	if err := h.Decode(comp); err != nil || h.Skippable || !h.HasFCS || h.FrameContentSize > MaxChunkObject || h.HeaderSize <= 0 {
		return -1, false
	}
	pos := h.HeaderSize
	for {
		if len(comp)-pos < 3 {
			return -1, false
		}
		bh := uint32(comp[pos]) | uint32(comp[pos+1])<<8 | uint32(comp[pos+2])<<16
		pos += 3
		last, typ, size := bh&1 == 1, (bh>>1)&3, int(bh>>3)
		switch typ {
		case 0, 2: // raw, compressed: size bytes follow
		case 1: // RLE: one byte, repeated size times
			size = 1
		default:
			return -1, false
		}
		if len(comp)-pos < size {
			return -1, false
		}
		pos += size
		if last {
			break
		}
	}
	if h.HasCheckSum {
		pos += 4
	}
	if pos != len(comp) {
		return -1, false // truncated, or more frames after this one
	}
	return int64(h.FrameContentSize), true
}
