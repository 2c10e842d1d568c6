package ingest

import (
	"context"

	"github.com/castore-go/castore"
)

// Batched reads ahead: files up to batchFileMax bytes are read in groups
// of up to batchGroupFiles files and batchGroupBytes bytes, one batch
// call each, batchGroupsAhead groups ahead of the one being used. Over a
// slow link a file then costs a share of a round trip, not two.
const (
	batchFileMax     = 1 << 20
	batchGroupFiles  = 256
	batchGroupBytes  = 8 << 20
	batchGroupsAhead = 4
)

// fileRef is a file of a tree being exported or copied.
type fileRef struct {
	path string
	node castore.Node
}

// readAhead yields files in the order given, with the contents of the
// small ones read ahead in batches when the store can batch
// (castore.BlobBatchReader); the others come with no data, to be read
// when their turn comes. Everything it reads has been verified.
type readAhead struct {
	files []fileRef
	// groups are the [start, end) ranges of files read in one batch; a
	// file outside every group is read by its user.
	groups  [][2]int
	results []chan groupResult
	// sem holds a place for each group read but not yet taken by each.
	sem    chan struct{}
	cancel context.CancelFunc
}

type groupResult struct {
	data map[castore.Digest][]byte
	err  error
}

// newReadAhead starts reading ahead; stop ends it.
func newReadAhead(ctx context.Context, blobs castore.BlobService, files []fileRef) *readAhead {
	ra := &readAhead{files: files}
	br, ok := blobs.(castore.BlobBatchReader)
	if !ok {
		return ra
	}
	// A group runs from one small file to the one that fills it; the
	// entries between (directories, symlinks, large files) are in its
	// range but not in its batch.
	start, files0, bytes := -1, 0, uint64(0)
	for i, f := range files {
		if f.node.Type != castore.NodeFile || f.node.Size > batchFileMax {
			continue
		}
		if start < 0 {
			start = i
		}
		files0++
		bytes += f.node.Size
		if files0 >= batchGroupFiles || bytes >= batchGroupBytes {
			ra.groups = append(ra.groups, [2]int{start, i + 1})
			start, files0, bytes = -1, 0, 0
		}
	}
	if start >= 0 {
		ra.groups = append(ra.groups, [2]int{start, len(files)})
	}
	ctx, ra.cancel = context.WithCancel(ctx)
	ra.results = make([]chan groupResult, len(ra.groups))
	for i := range ra.results {
		ra.results[i] = make(chan groupResult, 1)
	}
	ra.sem = make(chan struct{}, batchGroupsAhead)
	go func() {
		for i, g := range ra.groups {
			select {
			case ra.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				var metas []castore.ChunkMeta
				seen := map[castore.Digest]bool{}
				for _, f := range files[g[0]:g[1]] {
					if f.node.Type == castore.NodeFile && f.node.Size <= batchFileMax && !seen[f.node.Digest] {
						seen[f.node.Digest] = true
						metas = append(metas, castore.ChunkMeta{Digest: f.node.Digest, Size: f.node.Size})
					}
				}
				data := make(map[castore.Digest][]byte, len(metas))
				err := br.ReadBlobs(ctx, metas, func(b castore.ChunkMeta, p []byte) error {
					data[b.Digest] = p
					return nil
				})
				ra.results[i] <- groupResult{data, err}
			}()
		}
	}()
	return ra
}

// each calls fn for every file in order, with its verified contents if
// they were read ahead, else nil. It stops at fn's first error.
func (ra *readAhead) each(ctx context.Context, fn func(f fileRef, data []byte) error) error {
	defer ra.stop()
	g := 0
	for i := 0; i < len(ra.files); {
		if g < len(ra.groups) && ra.groups[g][0] == i {
			var r groupResult
			select {
			case r = <-ra.results[g]:
				<-ra.sem // the next group may be read
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			if r.err != nil && ctx.Err() != nil {
				return context.Cause(ctx)
			}
			// A batch that failed (a missing blob, a broken link) leaves
			// its files to be read one by one, so that an error names
			// the file it is about.
			for _, f := range ra.files[ra.groups[g][0]:ra.groups[g][1]] {
				if err := fn(f, r.data[f.node.Digest]); err != nil {
					return err
				}
			}
			i = ra.groups[g][1]
			g++
			continue
		}
		if err := fn(ra.files[i], nil); err != nil {
			return err
		}
		i++
	}
	return nil
}

func (ra *readAhead) stop() {
	if ra.cancel != nil {
		ra.cancel()
	}
}
