package fusefront

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
)

// prefetchTree stores a tree whose small files are named by their
// content, and returns the prefetcher of a dir-mode mount of it (its
// walker and workers not started: the tests drive it) and the names of
// the files by their blobs.
func prefetchTree(t *testing.T, root func(file func(name string) castore.Entry, dir func(name string, es ...castore.Entry) castore.Entry) castore.Entry) (*prefetcher, castore.Digest, map[castore.Digest]string) {
	dirs := dirstore.NewMemory()
	names := map[castore.Digest]string{}
	file := func(name string) castore.Entry {
		data := []byte(name)
		d := castore.Sum(data)
		names[d] = name
		return castore.Entry{Name: castore.PathComponent(name[strings.LastIndex(name, "/")+1:]), Node: castore.FileNode(d, uint64(len(data)), false)}
	}
	dir := func(name string, es ...castore.Entry) castore.Entry {
		d := dirtest.MustDir(t, es...)
		if _, err := dirs.Put(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		return castore.Entry{Name: castore.PathComponent(name), Node: d.Node()}
	}
	r := root(file, dir)
	f := newFS(nil, dirs, Options{Prefetch: PrefetchDir})
	t.Cleanup(f.cancel)
	pf := &prefetcher{f: f, mode: PrefetchDir, seen: map[castore.Digest]bool{}, unread: map[castore.Digest]uint64{},
		complete: map[castore.Digest]bool{}, own: map[castore.Digest]bool{}, budget: f.o.PrefetchBytes}
	pf.cond = sync.NewCond(&pf.mu)
	return pf, r.Node.Digest, names
}

// walkAll steps w until it is over or stops.
func walkAll(pf *prefetcher, w *walk) {
	for {
		if done, more := pf.step(w); done || !more || pf.aheadFull() {
			return
		}
	}
}

func queued(pf *prefetcher, names map[castore.Digest]string) string {
	var out []string
	for _, cm := range pf.queue {
		out = append(out, names[cm.Digest])
	}
	return strings.Join(out, " ")
}

// A listed subtree is queued in the order tar reads it: depth first,
// each directory's entries in order, files and subdirectories
// interleaved; a subtree queued already is not walked again.
func TestPrefetchWalkOrder(t *testing.T) {
	var sub castore.Digest
	pf, root, names := prefetchTree(t, func(file func(string) castore.Entry, dir func(string, ...castore.Entry) castore.Entry) castore.Entry {
		b := dir("b", file("b/1"), file("b/2"))
		sub = b.Node.Digest
		return dir("", file("a"), b, dir("c", dir("d", file("c/d/1")), file("c/e")), file("z"))
	})
	walkAll(pf, &walk{stack: []frame{{d: sub}}})
	if got := queued(pf, names); got != "b/1 b/2" {
		t.Fatalf("a walk of b queued %q", got)
	}
	walkAll(pf, &walk{stack: []frame{{d: root}}})
	if got, want := queued(pf, names), "b/1 b/2 a c/d/1 c/e z"; got != want {
		t.Fatalf("queued %q, want %q", got, want)
	}
	if !pf.complete[root] || !pf.complete[sub] {
		t.Error("walked directories are not marked complete")
	}
}

// A lookup queues the directory's own files, not its subtree's.
func TestPrefetchLookupOwnFiles(t *testing.T) {
	pf, root, names := prefetchTree(t, func(file func(string) castore.Entry, dir func(string, ...castore.Entry) castore.Entry) castore.Entry {
		return dir("", file("a"), dir("b", file("b/1")), file("c"))
	})
	// Twice: the second lookup queues nothing again.
	for range 2 {
		if !pf.queueOwn(root) {
			t.Fatal("queueOwn stopped")
		}
	}
	if got := queued(pf, names); got != "a c" {
		t.Fatalf("a lookup queued %q, want %q", got, "a c")
	}
}

// Dir mode keeps at most PrefetchLookahead files queued and not read; a
// read lets the walk go on.
func TestPrefetchLookahead(t *testing.T) {
	const n = PrefetchLookahead + 10
	pf, root, _ := prefetchTree(t, func(file func(string) castore.Entry, dir func(string, ...castore.Entry) castore.Entry) castore.Entry {
		var es []castore.Entry
		for i := range n {
			es = append(es, file(fmt.Sprintf("f%05d", i)))
		}
		return dir("", es...)
	})
	w := &walk{stack: []frame{{d: root}}}
	walkAll(pf, w)
	if len(pf.queue) != PrefetchLookahead {
		t.Fatalf("queued %d files ahead, want %d", len(pf.queue), PrefetchLookahead)
	}
	for _, cm := range pf.queue[:3] {
		pf.fileRead(cm.Digest)
	}
	walkAll(pf, w)
	if len(pf.queue) != PrefetchLookahead+3 {
		t.Fatalf("after 3 reads, queued %d files, want %d", len(pf.queue), PrefetchLookahead+3)
	}
	for _, cm := range pf.queue[3:10] {
		pf.fileRead(cm.Digest)
	}
	if done, _ := pf.step(w); !done || len(pf.queue) != n {
		t.Fatalf("the walk is not over after all was queued: %d of %d", len(pf.queue), n)
	}
}

// Dir mode also keeps at most PrefetchLookaheadBytes queued and not read.
func TestPrefetchLookaheadBytes(t *testing.T) {
	const size = 1 << 20
	const n = PrefetchLookaheadBytes/size + 5
	pf, root, _ := prefetchTree(t, func(file func(string) castore.Entry, dir func(string, ...castore.Entry) castore.Entry) castore.Entry {
		var es []castore.Entry
		for i := range n {
			name := fmt.Sprintf("f%05d", i)
			es = append(es, castore.Entry{Name: castore.PathComponent(name), Node: castore.FileNode(castore.Sum([]byte(name)), size, false)})
		}
		return dir("", es...)
	})
	w := &walk{stack: []frame{{d: root}}}
	walkAll(pf, w)
	if want := PrefetchLookaheadBytes / size; len(pf.queue) != want {
		t.Fatalf("queued %d files of 1 MiB ahead, want %d", len(pf.queue), want)
	}
	pf.fileRead(pf.queue[0].Digest)
	walkAll(pf, w)
	if want := PrefetchLookaheadBytes/size + 1; len(pf.queue) != want {
		t.Fatalf("after a read, queued %d files, want %d", len(pf.queue), want)
	}
}
