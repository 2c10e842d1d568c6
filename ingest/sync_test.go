package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/ingest"
)

// syncLog is a blob service that defers durability (castore.Syncer) and
// a directory service, logging in order what an import does with them.
type syncLog struct {
	castore.BlobService
	dirs castore.DirectoryService

	mu       sync.Mutex
	events   []string
	eager    int // blob writes not made under castore.DeferSync
	unsynced int // blob writes since the last Sync
}

func (l *syncLog) log(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *syncLog) Create(ctx context.Context) castore.BlobWriter {
	l.mu.Lock()
	if !castore.SyncDeferred(ctx) {
		l.eager++
	}
	l.unsynced++
	l.mu.Unlock()
	return l.BlobService.Create(ctx)
}

func (l *syncLog) Sync(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "sync")
	l.unsynced = 0
	return nil
}

type syncLogDirs struct {
	castore.DirectoryService
	l *syncLog
}

func (d syncLogDirs) NewPutter(ctx context.Context) castore.DirectoryPutter {
	d.l.mu.Lock()
	if d.l.unsynced > 0 {
		d.l.events = append(d.l.events, "directories before sync")
	}
	d.l.mu.Unlock()
	d.l.log("directories")
	return d.DirectoryService.NewPutter(ctx)
}

// TestImportSyncsOnce: into a store that defers durability, an import's
// blob writes are all deferred and made durable by one Sync, before any
// directory names them; a lone file's import syncs too.
func TestImportSyncsOnce(t *testing.T) {
	dir := t.TempDir()
	for i, name := range []string{"a", "b", "sub/c", "sub/d"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte{byte(i), 'x'}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := &syncLog{BlobService: chunkstore.NewMemory(), dirs: dirstore.NewMemory()}
	if _, err := ingest.ImportPath(t.Context(), l, syncLogDirs{l.dirs, l}, dir, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := l.events; len(got) != 2 || got[0] != "sync" || got[1] != "directories" || l.eager != 0 {
		t.Errorf("import of a tree: %v, %d writes not deferred; want [sync directories], 0", got, l.eager)
	}
	l.events = nil
	if _, err := ingest.ImportPath(t.Context(), l, syncLogDirs{l.dirs, l}, filepath.Join(dir, "a"), ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := l.events; len(got) != 1 || got[0] != "sync" {
		t.Errorf("import of a file: %v, want [sync]", got)
	}
}
