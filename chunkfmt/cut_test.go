package chunkfmt_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/castore-go/castore/chunkfmt"
)

func cut(t *testing.T, data []byte, avg int) [][]byte {
	t.Helper()
	c, err := chunkfmt.NewCutter(bytes.NewReader(data), avg)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(chunk))
	}
}

// Chunks are within FastCDC's bounds and join to the input; and a chunk
// cut again on its own is itself, so a store that cuts what a client cut
// with the same average keeps it as one chunk.
func TestCutter(t *testing.T) {
	const avg = chunkfmt.DefaultAvgChunkSize
	data := make([]byte, 20<<20+123)
	rand.NewChaCha8([32]byte{9}).Read(data)
	chunks := cut(t, data, avg)
	if len(chunks) < 20 {
		t.Fatalf("%d chunks of 20 MiB", len(chunks))
	}
	var joined []byte
	for i, c := range chunks {
		if len(c) > 2*avg || (len(c) < avg/2 && i < len(chunks)-1) {
			t.Errorf("chunk #%d has %d bytes, outside %d..%d", i, len(c), avg/2, 2*avg)
		}
		if again := cut(t, c, avg); len(again) != 1 || !bytes.Equal(again[0], c) {
			t.Errorf("chunk #%d cut again makes %d chunks", i, len(again))
		}
		joined = append(joined, c...)
	}
	if !bytes.Equal(joined, data) {
		t.Fatal("chunks do not join to the input")
	}
	if _, err := chunkfmt.NewCutter(bytes.NewReader(nil), 1); err == nil {
		t.Error("an average of 1 byte was accepted")
	}
}
