package gc

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"sync"

	"github.com/castore-go/castore"
)

// DefaultRunSize is how many digests a set holds in memory before it
// writes them, sorted, to a run on disk: 1M digests, 32 MiB.
const DefaultRunSize = 1 << 20

// digestSet is a set of digests bounded in memory: digests are gathered
// in a buffer of runSize, which is sorted and written to a temporary file
// (a run) when full. Sorted merges the runs and the buffer into one
// stream in digest order without duplicates, as often as asked; so the
// set is exact, its memory is runSize digests plus a read buffer per run,
// and its disk 32 bytes a digest.
type digestSet struct {
	dir     string
	runSize int

	mu   sync.Mutex
	buf  []castore.Digest
	runs []string
	adds int64
}

func newDigestSet(dir string, runSize int) *digestSet {
	if runSize <= 0 {
		runSize = DefaultRunSize
	}
	return &digestSet{dir: dir, runSize: runSize}
}

// Add adds d. It is safe for concurrent use.
func (s *digestSet) Add(d castore.Digest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adds++
	s.buf = append(s.buf, d)
	if len(s.buf) < s.runSize {
		return nil
	}
	return s.spill()
}

// spill writes the buffer as a run. Caller holds mu.
func (s *digestSet) spill() error {
	s.sortBuf()
	f, err := os.CreateTemp(s.dir, "gc-run-*")
	if err != nil {
		return fmt.Errorf("live set: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, d := range s.buf {
		w.Write(d[:])
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("live set: %w", err)
	}
	s.runs = append(s.runs, f.Name())
	s.buf = s.buf[:0]
	return nil
}

func (s *digestSet) sortBuf() {
	slices.SortFunc(s.buf, func(a, b castore.Digest) int { return bytes.Compare(a[:], b[:]) })
	s.buf = slices.Compact(s.buf)
}

// Runs is how many runs the set has written to disk.
func (s *digestSet) Runs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.runs)
}

// Sorted yields the set's digests in order, each once. Adds must not run
// meanwhile.
func (s *digestSet) Sorted() iter.Seq2[castore.Digest, error] {
	return func(yield func(castore.Digest, error) bool) {
		s.mu.Lock()
		s.sortBuf()
		buf := slices.Clone(s.buf)
		runs := slices.Clone(s.runs)
		s.mu.Unlock()
		var h mergeHeap
		var files []*os.File
		defer func() {
			for _, f := range files {
				f.Close()
			}
		}()
		if len(buf) > 0 {
			h = append(h, &cursor{mem: buf})
		}
		for _, name := range runs {
			f, err := os.Open(name)
			if err != nil {
				yield(castore.Digest{}, fmt.Errorf("live set: %w", err))
				return
			}
			files = append(files, f)
			h = append(h, &cursor{r: bufio.NewReaderSize(f, 64<<10)})
		}
		live := h[:0]
		for _, c := range h {
			ok, err := c.next()
			if err != nil {
				yield(castore.Digest{}, err)
				return
			}
			if ok {
				live = append(live, c)
			}
		}
		h = live
		heap.Init(&h)
		var last castore.Digest
		first := true
		for h.Len() > 0 {
			c := h[0]
			d := c.cur
			if first || d != last {
				if !yield(d, nil) {
					return
				}
				last, first = d, false
			}
			ok, err := c.next()
			if err != nil {
				yield(castore.Digest{}, err)
				return
			}
			if ok {
				heap.Fix(&h, 0)
			} else {
				heap.Pop(&h)
			}
		}
	}
}

// Close removes the runs.
func (s *digestSet) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, name := range s.runs {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.runs, s.buf = nil, nil
	return errors.Join(errs...)
}

// cursor reads one sorted run (from a file, or from memory).
type cursor struct {
	r   *bufio.Reader
	mem []castore.Digest
	cur castore.Digest
}

func (c *cursor) next() (bool, error) {
	if c.r == nil {
		if len(c.mem) == 0 {
			return false, nil
		}
		c.cur, c.mem = c.mem[0], c.mem[1:]
		return true, nil
	}
	_, err := io.ReadFull(c.r, c.cur[:])
	switch {
	case err == io.EOF:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("live set: reading a run: %w", err)
	}
	return true, nil
}

type mergeHeap []*cursor

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return bytes.Compare(h[i].cur[:], h[j].cur[:]) < 0 }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(*cursor)) }
func (h *mergeHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// member answers "is d in the set?" for digests asked in increasing
// order, walking the set's sorted stream once: a merge join.
type member struct {
	next func() (castore.Digest, error, bool)
	stop func()
	cur  castore.Digest
	ok   bool
	err  error
	init bool
}

func newMember(s *digestSet) *member {
	next, stop := iter.Pull2(s.Sorted())
	return &member{next: next, stop: stop}
}

func (m *member) advance() {
	d, err, ok := m.next()
	if err != nil {
		m.err, m.ok = err, false
		return
	}
	m.cur, m.ok = d, ok
}

// Has reports whether d is in the set; d must not be smaller than the
// digest asked before.
func (m *member) Has(d castore.Digest) (bool, error) {
	if !m.init {
		m.init = true
		m.advance()
	}
	for m.ok && bytes.Compare(m.cur[:], d[:]) < 0 {
		m.advance()
	}
	if m.err != nil {
		return false, m.err
	}
	return m.ok && m.cur == d, nil
}

func (m *member) Close() { m.stop() }
