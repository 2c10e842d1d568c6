package chunkstore

import (
	"bytes"
	"io"

	"github.com/castore-go/castore/chunkfmt"
)

// lazyChunk reads as the zstd compression of data, compressed on first
// use. It is a bytes.Reader then (Read, Seek, ReadAt, WriteTo, Len, Size),
// so backends that want a length or a seekable body have one.
type lazyChunk struct {
	enc  *chunkfmt.Encoder
	data []byte
	r    *bytes.Reader
}

func (l *lazyChunk) reader() *bytes.Reader {
	if l.r == nil {
		l.r = bytes.NewReader(l.enc.Encode(l.data))
		l.data = nil
	}
	return l.r
}

func (l *lazyChunk) Read(p []byte) (int, error) { return l.reader().Read(p) }

func (l *lazyChunk) ReadAt(p []byte, off int64) (int, error) { return l.reader().ReadAt(p, off) }

func (l *lazyChunk) Seek(off int64, whence int) (int64, error) { return l.reader().Seek(off, whence) }

func (l *lazyChunk) WriteTo(w io.Writer) (int64, error) { return l.reader().WriteTo(w) }

func (l *lazyChunk) Len() int { return l.reader().Len() }

func (l *lazyChunk) Size() int64 { return l.reader().Size() }
