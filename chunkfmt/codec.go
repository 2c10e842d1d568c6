package chunkfmt

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/castore-go/castore"
)

// MaxChunkObject bounds what is read and decompressed for one chunk whose
// size is not known in advance (a single-chunk blob): a decompression bomb
// stops there.
const MaxChunkObject = 64 << 20

// Encoder compresses chunks as they are stored: zstd, at its default
// level unless told otherwise. It is safe for concurrent use, by up to
// GOMAXPROCS encodes at once.
type Encoder struct{ enc *zstd.Encoder }

// Compression is how hard an Encoder compresses. Every level writes plain
// zstd frames, which any reader decodes: it is a store's choice of CPU
// against bytes, not a format.
type Compression string

// The levels, as klauspost/compress/zstd names them. On GOROOT's chunks
// (232 MB of them, one core): fastest 0.87 s to 33.4% of the bytes,
// default 1.14 s to 31.7%.
const (
	CompressionDefault Compression = "default"
	CompressionFastest Compression = "fastest"
	CompressionBetter  Compression = "better"
)

// ParseCompression parses a level name; "" is the default.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case "":
		return CompressionDefault, nil
	case CompressionDefault, CompressionFastest, CompressionBetter:
		return c, nil
	}
	return "", fmt.Errorf("compression %q: want fastest, default or better", s)
}

func (c Compression) level() zstd.EncoderLevel {
	switch c {
	case CompressionFastest:
		return zstd.SpeedFastest
	case CompressionBetter:
		return zstd.SpeedBetterCompression
	}
	return zstd.SpeedDefault
}

// NewEncoder returns an Encoder at the default level.
func NewEncoder() (*Encoder, error) { return NewEncoderAt(CompressionDefault) }

// NewEncoderAt returns an Encoder at level c.
func NewEncoderAt(c Compression) (*Encoder, error) {
	if _, err := ParseCompression(string(c)); err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(c.level()), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, err
	}
	return &Encoder{enc: enc}, nil
}

// Encode returns the stored form of a chunk's bytes.
func (e *Encoder) Encode(data []byte) []byte {
	return e.enc.EncodeAll(data, make([]byte, 0, len(data)/2))
}

// CompressedLimit is the most zstd data a chunk of size bytes (-1: not
// known, so up to MaxChunkObject) can take: zstd never grows data by more
// than this.
func CompressedLimit(size int64) int64 {
	if size < 0 {
		size = MaxChunkObject
	}
	return size + size/64 + 64<<10
}

// DecodeChunk decompresses chunk d's zstd data and verifies it: the
// result is exactly d's bytes, or an error wrapping castore.ErrCorrupt.
// size is the chunk's length if known, or -1; decompression stops as soon
// as the output would exceed it (or MaxChunkObject), so a decompression
// bomb costs no more memory than the chunk it claims to be.
func DecodeChunk(d castore.Digest, comp []byte, size int64) ([]byte, error) {
	data, err := decompress(nil, d, comp, size)
	if err != nil {
		return nil, err
	}
	if castore.Sum(data) != d {
		return nil, fmt.Errorf("chunk %s: content does not match its digest: %w", d, castore.ErrCorrupt)
	}
	return data, nil
}

// Decompress decodes chunk d's zstd data into exactly size bytes (size
// at most MaxChunkObject), without checking them against d: for a caller
// that verifies what the chunks make up instead, the digest of a whole
// blob. It fails as DecodeChunk does for data that does not decompress
// to size bytes.
func Decompress(d castore.Digest, comp []byte, size int64) ([]byte, error) {
	return DecompressInto(nil, d, comp, size)
}

// DecompressInto is Decompress into buf's storage where it holds size
// bytes (else into a new slice): for a caller that is done with each
// chunk once it has hashed it, and reuses its buffers.
func DecompressInto(buf []byte, d castore.Digest, comp []byte, size int64) ([]byte, error) {
	if size < 0 || size > MaxChunkObject {
		return nil, fmt.Errorf("chunk %s: decompress to %d bytes: a chunk has 0 to %d: %w", d, size, MaxChunkObject, castore.ErrInvalid)
	}
	return decompress(buf, d, comp, size)
}

// decoders holds zstd decoders, each streaming with concurrency 1. They
// skip the frames' xxhash checksums: every chunk's BLAKE3 is checked after
// decompression, and the checksum took 12% of decoding a 256 KiB chunk
// (BenchmarkDecodeChunk, 148 against 169 µs, medians of 9).
var decoders sync.Pool

// decompress decodes a chunk object, stopping as soon as the output would
// exceed the chunk's size (or MaxChunkObject if that is unknown).
func decompress(buf []byte, d castore.Digest, comp []byte, size int64) ([]byte, error) {
	if size >= 0 && size <= MaxChunkObject && int64(cap(buf)) < size+decodeSlack {
		buf = make([]byte, 0, size+decodeSlack)
	}
	if size >= 0 && size <= MaxChunkObject && frameContentSize(comp) == size {
		return decodeWhole(buf, d, comp, size)
	}
	zr, err := pooledDecoder(&decoders)
	if err != nil {
		return nil, err
	}
	defer decoders.Put(zr)
	if err := zr.Reset(bytes.NewReader(comp)); err != nil {
		return nil, fmt.Errorf("chunk %s: cannot decompress: %w: %w", d, castore.ErrCorrupt, err)
	}
	limit := size
	if size < 0 {
		limit = MaxChunkObject
	}
	var data []byte
	if size >= 0 && size <= MaxChunkObject {
		data = buf[:size]
		_, err = io.ReadFull(zr, data)
	} else {
		// The size is not known, or too large to allocate on trust (an
		// index or a server may lie): grow with what decompresses.
		data, err = readAllHinted(zr, limit, min(frameContentSize(comp), MaxChunkObject))
		if err == nil && size >= 0 && int64(len(data)) < size {
			err = io.ErrUnexpectedEOF
		}
	}
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return nil, fmt.Errorf("chunk %s: decompresses to fewer bytes than the %d the index says: %w", d, size, castore.ErrCorrupt)
	case err != nil:
		return nil, fmt.Errorf("chunk %s: cannot decompress: %w: %w", d, castore.ErrCorrupt, err)
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("chunk %s: decompresses to more than %d bytes: %w", d, limit, castore.ErrCorrupt)
	}
	if size >= 0 {
		var one [1]byte
		if n, err := zr.Read(one[:]); n > 0 {
			return nil, fmt.Errorf("chunk %s: decompresses to more than the %d bytes the index says: %w", d, size, castore.ErrCorrupt)
		} else if err != nil && err != io.EOF {
			return nil, fmt.Errorf("chunk %s: cannot decompress: %w: %w", d, castore.ErrCorrupt, err)
		}
	}
	return data, nil
}

// pooledDecoder takes a decoder from pool, or makes one bounded to a
// chunk (window and memory at most MaxChunkObject).
func pooledDecoder(pool *sync.Pool) (*zstd.Decoder, error) {
	if zr, ok := pool.Get().(*zstd.Decoder); ok {
		return zr, nil
	}
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(MaxChunkObject), zstd.WithDecoderMaxMemory(MaxChunkObject), zstd.IgnoreChecksum(true))
}

// decodeSlack is room past a chunk's end in the buffer it is decoded
// into: with less than 32 bytes of it, the decoder copies its last block
// (a small file's only one) with its slower exact copies.
const decodeSlack = 64

// wholeDecoders holds zstd decoders used only for DecodeAll: a streaming
// decoder left mid-frame (as decompress leaves one that found too many
// bytes) holds its one block decoder until its next Reset, and DecodeAll
// on it would wait for that forever.
var wholeDecoders sync.Pool

// decodeWhole decodes a frame that declares the size expected in one call
// into buf, which has room for it: a third faster than streaming it through the
// decoder's window (BenchmarkDecodeChunk, 280 against 200 µs with the
// hash). What a lying frame (or frames after it) may make is held to
// MaxChunkObject by the decoder's memory bound, and refused.
func decodeWhole(buf []byte, d castore.Digest, comp []byte, size int64) ([]byte, error) {
	zr, err := pooledDecoder(&wholeDecoders)
	if err != nil {
		return nil, err
	}
	defer wholeDecoders.Put(zr)
	data, err := zr.DecodeAll(comp, buf[:0])
	switch {
	case err != nil:
		return nil, fmt.Errorf("chunk %s: cannot decompress: %w: %w", d, castore.ErrCorrupt, err)
	case int64(len(data)) < size:
		return nil, fmt.Errorf("chunk %s: decompresses to fewer bytes than the %d the index says: %w", d, size, castore.ErrCorrupt)
	case int64(len(data)) > size:
		return nil, fmt.Errorf("chunk %s: decompresses to more than the %d bytes the index says: %w", d, size, castore.ErrCorrupt)
	}
	return data, nil
}

// frameContentSize returns the content size the first zstd frame of comp
// declares, or -1. It is only a hint for sizing a buffer: the frame may
// lie, and more frames may follow.
func frameContentSize(comp []byte) int64 {
	var h zstd.Header
	if err := h.Decode(comp); err != nil || !h.HasFCS || h.FrameContentSize > math.MaxInt32 {
		return -1
	}
	return int64(h.FrameContentSize)
}

// readAllHinted reads r to its end, refusing more than limit bytes (it
// returns limit+1 bytes then). A hint of the length, capped at limit,
// sizes the buffer in one allocation instead of a dozen growing copies;
// without one (hint < 0), or past it, the buffer doubles, up to limit+1:
// reading a bomb allocates about twice the limit in all (io.ReadAll's
// gentler growth allocated five times it).
func readAllHinted(r io.Reader, limit, hint int64) ([]byte, error) {
	if hint < 0 {
		hint = 64 << 10
	}
	// One byte more than the hint, so that reaching the end of a frame
	// that told the truth needs no growth to notice.
	buf := make([]byte, 0, min(hint, limit)+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, err
		case int64(len(buf)) > limit:
			return buf, nil
		case len(buf) == cap(buf):
			buf = slices.Grow(buf, int(min(int64(cap(buf)), limit+1-int64(len(buf)))))
		}
	}
}
