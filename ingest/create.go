package ingest

import (
	"context"
	"errors"

	"github.com/castore-go/castore"
)

// create starts a blob in s: cut here where s takes blobs as chunks
// (castore.ChunkUploader: a server that then receives only the chunks it
// lacks), else with Create.
func create(ctx context.Context, s castore.BlobService) castore.BlobWriter {
	w, err := castore.CreateChunked(ctx, s)
	switch {
	case err == nil:
		return w
	case errors.Is(err, castore.ErrUnsupported):
		return s.Create(ctx)
	}
	return failedWriter{err}
}

// failedWriter is a blob writer that could not start.
type failedWriter struct{ err error }

func (w failedWriter) Write([]byte) (int, error)      { return 0, w.err }
func (w failedWriter) Close() (castore.Digest, error) { return castore.Digest{}, w.err }
