package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"path"

	"golang.org/x/sync/errgroup"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkfmt"
)

// Damage is one object of a store that does not check out.
type Damage struct {
	// Key is the object's key ("" for one that is missing and has none
	// of its own yet: a chunk an index names).
	Key string `json:"key,omitempty"`
	// Digest is the chunk, blob or directory it is about.
	Digest castore.Digest `json:"digest"`
	// Kind is what it is: "chunk", "index" or "directory".
	Kind string `json:"kind"`
	// Problem says what is wrong.
	Problem string `json:"problem"`
	// Repaired is set once --repair-from replaced it with a verified copy.
	Repaired bool `json:"repaired,omitempty"`
}

// VerifyStats counts what Verify read.
type VerifyStats struct {
	Chunks  int64 `json:"chunks"`
	Indexes int64 `json:"indexes"`
	Bytes   int64 `json:"bytes"`
}

// Verify reads every object of the store: every chunk (in either layout)
// decompresses within bounds to the bytes of its digest, and every blob
// index decodes and names chunks that are stored with the sizes it gives.
// Each object that does not is reported to damage; an error is returned
// only when the store cannot be read at all. Objects are listed and read
// a few at a time: memory is bounded by the chunks in flight and the
// store's known set, whatever the store's size. progress, if set, is
// called after each object.
func (c *Chunked) Verify(ctx context.Context, damage func(Damage), progress func(VerifyStats)) (VerifyStats, error) {
	var st VerifyStats
	report := make(chan Damage)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range report {
			damage(d)
		}
	}()
	defer func() { close(report); <-done }()
	note := func() {
		if progress != nil {
			progress(st)
		}
	}
	for _, prefix := range []string{"chunks/b3/", "chunk/b3/"} {
		err := c.eachObject(ctx, prefix, func(key string, d castore.Digest) error {
			size, err := c.verifyChunk(ctx, key, d)
			st.Chunks++
			st.Bytes += size
			if err != nil {
				report <- Damage{Key: key, Digest: d, Kind: "chunk", Problem: err.Error()}
			}
			note()
			return nil
		}, func(key string) { report <- Damage{Key: key, Kind: "chunk", Problem: "not a chunk's key"} })
		if err != nil {
			return st, err
		}
	}
	err := c.eachObject(ctx, "blobs/b3/", func(key string, d castore.Digest) error {
		st.Indexes++
		for _, dm := range c.verifyIndex(ctx, key, d) {
			report <- dm
		}
		note()
		return nil
	}, func(key string) { report <- Damage{Key: key, Kind: "index", Problem: "not a blob index's key"} })
	return st, err
}

// verifyWorkers is how many objects Verify reads at once.
const verifyWorkers = 8

// eachObject calls fn for every object under prefix whose key names a
// digest, verifyWorkers at once, and bad for any other key. fn's calls
// are serialized: it may count.
func (c *Chunked) eachObject(ctx context.Context, prefix string, fn func(key string, d castore.Digest) error, bad func(key string)) error {
	type item struct {
		key string
		d   castore.Digest
	}
	g, gctx := errgroup.WithContext(ctx)
	items := make(chan item)
	results := make(chan func() error)
	g.Go(func() error {
		defer close(items)
		for oi, err := range c.store.List(gctx, prefix) {
			if err != nil {
				return fmt.Errorf("list %s: %w", prefix, err)
			}
			name := path.Base(oi.Key)
			d, err := castore.ParseDigest(name)
			if err != nil || d.Hex() != name || oi.Key != prefix+name[:4]+"/"+name {
				results <- func() error { bad(oi.Key); return nil }
				continue
			}
			select {
			case items <- item{oi.Key, d}:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var workers errgroup.Group
	for range verifyWorkers {
		workers.Go(func() error {
			for it := range items {
				select {
				case results <- func() error { return fn(it.key, it.d) }:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() { workers.Wait(); close(results) }()
	var ferr error
	for r := range results {
		if err := r(); err != nil && ferr == nil {
			ferr = err
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ferr
}

// verifyChunk reads the chunk object at key and checks it is chunk d; it
// returns the chunk's size.
func (c *Chunked) verifyChunk(ctx context.Context, key string, d castore.Digest) (int64, error) {
	buf := getCompBuf()
	defer putCompBuf(buf)
	if err := c.readKey(ctx, key, chunkfmt.CompressedLimit(-1), buf); err != nil {
		return 0, err
	}
	data, err := chunkfmt.DecodeChunk(d, buf.Bytes(), -1)
	if err != nil {
		return 0, err
	}
	c.known.addSize(d, int64(len(data)))
	return int64(len(data)), nil
}

// verifyIndex checks the blob index at key: it decodes, and each chunk
// it names is stored (verified by the chunk pass, or checked now) with
// the size it gives.
func (c *Chunked) verifyIndex(ctx context.Context, key string, d castore.Digest) []Damage {
	buf := getCompBuf()
	defer putCompBuf(buf)
	if err := c.readKey(ctx, key, chunkfmt.MaxIndexSize, buf); err != nil {
		return []Damage{{Key: key, Digest: d, Kind: "index", Problem: err.Error()}}
	}
	chunks, err := chunkfmt.DecodeIndex(buf.Bytes())
	if err != nil {
		return []Damage{{Key: key, Digest: d, Kind: "index", Problem: err.Error()}}
	}
	ds := make([]castore.Digest, len(chunks))
	for i, cm := range chunks {
		ds[i] = cm.Digest
	}
	var out []Damage
	i := 0
	err = c.StatBlobs(ctx, ds, func(cd castore.Digest, size uint64, ok bool) error {
		cm := chunks[i]
		i++
		switch {
		case !ok:
			out = append(out, Damage{Key: key, Digest: d, Kind: "index", Problem: fmt.Sprintf("chunk %s (#%d) is not stored", cd, i-1)})
		case size != cm.Size:
			out = append(out, Damage{Key: key, Digest: d, Kind: "index", Problem: fmt.Sprintf("chunk %s (#%d) has %d bytes, the index says %d", cd, i-1, size, cm.Size)})
		}
		return nil
	})
	if err != nil {
		out = append(out, Damage{Key: key, Digest: d, Kind: "index", Problem: err.Error()})
	}
	return out
}

// Repair replaces the damaged object of dm with a verified copy from
// from: a chunk's bytes (read and checked against its digest), a blob's
// index (from's chunk list, whose chunks must be stored here or be
// fetched too). It reports what it could not do.
func (c *Chunked) Repair(ctx context.Context, dm Damage, from castore.BlobService) error {
	switch dm.Kind {
	case "chunk":
		data, err := readWhole(ctx, from, dm.Digest)
		if err != nil {
			return fmt.Errorf("repair chunk %s: %w", dm.Digest, err)
		}
		return c.replaceChunk(ctx, dm.Digest, nil, data)
	case "index":
		chunks, err := from.Chunks(ctx, dm.Digest)
		if err != nil {
			return fmt.Errorf("repair index of blob %s: %w", dm.Digest, err)
		}
		if len(chunks) < 2 {
			return fmt.Errorf("repair index of blob %s: the source keeps it as one chunk", dm.Digest)
		}
		for _, cm := range chunks {
			if _, err := c.ReadChunk(ctx, cm); err == nil {
				continue
			} else if !errors.Is(err, castore.ErrNotFound) && !errors.Is(err, castore.ErrCorrupt) {
				return err
			}
			data, err := readChunk(ctx, from, cm)
			if err != nil {
				return fmt.Errorf("repair index of blob %s: chunk %s: %w", dm.Digest, cm.Digest, err)
			}
			if err := c.replaceChunk(ctx, cm.Digest, nil, data); err != nil {
				return err
			}
		}
		return c.replaceIndex(ctx, dm.Digest, chunks)
	}
	return fmt.Errorf("repair %s %s: not a chunk or an index", dm.Kind, dm.Digest)
}
