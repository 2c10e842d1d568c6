package dirstore_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/dirstore/dirtest"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore/filestore"
)

// The benchmark of issue 5. Run it with
//
//	go test -run '^$' -bench 'DirClosure' ./dirstore/
//
// (`make bench-store` runs it with -benchtime 1x).
const (
	benchDirs    = 10_000
	benchEntries = 200_000
	benchShared  = 8 // subtrees referred to from a second place
)

// benchClosure builds a closure shaped like a source tree: 10,000 distinct
// directories holding 200,000 entries in all. The directories form a
// random recursive tree (each directory's parent is an earlier one, the
// most recent ones likelier, so the tree is a few levels deep with uneven
// fan-out); benchShared small subtrees are also referred to from a second
// directory elsewhere (the same vendored package in two places); the
// remaining entries are files (1 in 30 a symlink), at least one per
// directory, more of them near the top. It returns the closure leaves
// first, root last, as a putter takes it.
func benchClosure(tb testing.TB) []*castore.Directory {
	rng := rand.New(rand.NewPCG(4, 5))
	parent := make([]int, benchDirs)
	children := make([][]int, benchDirs)
	for i := 1; i < benchDirs; i++ {
		// Mostly a recent directory (a deep path being filled), sometimes
		// any earlier one (a new branch).
		if rng.IntN(4) == 0 {
			parent[i] = rng.IntN(i)
		} else {
			parent[i] = max(0, i-1-rng.IntN(20))
		}
		children[parent[i]] = append(children[parent[i]], i)
	}
	// Subtree sizes, to pick small ones to share.
	subtree := make([]int, benchDirs)
	for i := benchDirs - 1; i >= 0; i-- {
		subtree[i]++
		if i > 0 {
			subtree[parent[i]] += subtree[i]
		}
	}
	type ref struct{ from, to int }
	var shared []ref
	for len(shared) < benchShared {
		s := 1 + rng.IntN(benchDirs-1)
		if subtree[s] < 3 || subtree[s] > 50 || s < 100 {
			continue
		}
		// A second parent with a lower index: no cycle is possible, as
		// every reference goes from a lower index to a higher one.
		shared = append(shared, ref{from: rng.IntN(s - 1), to: s})
	}
	extra := make([][]int, benchDirs)
	for _, r := range shared {
		extra[r.from] = append(extra[r.from], r.to)
	}
	files := make([]int, benchDirs)
	for i := range files {
		files[i] = 1
	}
	for range benchEntries - (benchDirs - 1) - benchShared - benchDirs {
		// Skewed towards low indices (near the root).
		f := rng.Float64()
		files[int(f*f*benchDirs)]++
	}

	dirs := make([]*castore.Directory, benchDirs)
	var out []*castore.Directory
	fileNo := 0
	for i := benchDirs - 1; i >= 0; i-- {
		var es []castore.Entry
		for _, c := range children[i] {
			es = append(es, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("dir%05d", c)), Node: dirs[c].Node()})
		}
		for k, c := range extra[i] {
			es = append(es, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("vendored-%d", k)), Node: dirs[c].Node()})
		}
		for range files[i] {
			fileNo++
			name := castore.PathComponent(fmt.Sprintf("file_%06d.go", fileNo))
			var n castore.Node
			if fileNo%30 == 0 {
				n = castore.SymlinkNode(fmt.Sprintf("../../some/where/file_%06d.go", fileNo-1))
			} else {
				n = castore.FileNode(castore.Sum([]byte(name)), uint64(rng.IntN(64<<10)), fileNo%17 == 0)
			}
			es = append(es, castore.Entry{Name: name, Node: n})
		}
		d, err := castore.NewDirectory(es...)
		if err != nil {
			tb.Fatal(err)
		}
		dirs[i] = d
		out = append(out, d)
	}
	entries := 0
	for _, d := range out {
		entries += d.Len()
	}
	if entries != benchEntries {
		tb.Fatalf("closure has %d entries, want %d", entries, benchEntries)
	}
	return out
}

type benchService struct {
	name string
	open func(b *testing.B) castore.DirectoryService
}

func benchServices() []benchService {
	return []benchService{
		{"memory", func(b *testing.B) castore.DirectoryService { return dirstore.NewMemory() }},
		{"embedded", func(b *testing.B) castore.DirectoryService {
			e, err := dirstore.OpenEmbedded(filepath.Join(b.TempDir(), "dirs.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { e.Close() })
			return e
		}},
		{"bundles-file", func(b *testing.B) castore.DirectoryService {
			f, err := filestore.New(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			s, err := dirstore.NewBundles(f, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

func benchPut(b *testing.B, s castore.DirectoryService, closure []*castore.Directory) castore.Digest {
	root, err := dirtest.Put(b.Context(), s, closure...)
	if err != nil {
		b.Fatal(err)
	}
	return root
}

// BenchmarkDirClosure puts the closure (through a putter, into an empty
// store each time) and reads it back with GetRecursive, for each
// DirectoryService, and reports directories per second of wall time
// (dirs/s) and per second of this process's CPU time (dirs/cpu-s: user and
// system, GC included, so on a shared machine it shows what one free core
// would do, less any waiting on disk). Target (issue 5): GetRecursive from
// bundles-file at least 50,000 dirs/s.
func BenchmarkDirClosure(b *testing.B) {
	closure := benchClosure(b)
	want := closure[len(closure)-1].Digest()
	for _, svc := range benchServices() {
		b.Run(svc.name+"/put", func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				s := svc.open(b)
				cpu0 := testenv.CPUTime()
				b.StartTimer()
				if root := benchPut(b, s, closure); root != want {
					b.Fatalf("put closure %s, want %s", root, want)
				}
				b.StopTimer()
				cpu += testenv.CPUTime() - cpu0
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*len(closure))/b.Elapsed().Seconds(), "dirs/s")
			b.ReportMetric(float64(b.N*len(closure))/cpu.Seconds(), "dirs/cpu-s")
		})
		b.Run(svc.name+"/get-recursive", func(b *testing.B) {
			s := svc.open(b)
			root := benchPut(b, s, closure)
			var cpu0 time.Duration
			for b.Loop() {
				if cpu0 == 0 {
					cpu0 = testenv.CPUTime()
				}
				n := 0
				for _, err := range s.GetRecursive(b.Context(), root) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != len(closure) {
					b.Fatalf("GetRecursive yielded %d directories, want %d", n, len(closure))
				}
			}
			cpu := testenv.CPUTime() - cpu0
			b.ReportMetric(float64(b.N*len(closure))/b.Elapsed().Seconds(), "dirs/s")
			b.ReportMetric(float64(b.N*len(closure))/cpu.Seconds(), "dirs/cpu-s")
		})
	}
}
