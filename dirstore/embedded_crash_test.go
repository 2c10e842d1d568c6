package dirstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/dirstore"
)

// crashClosure is closure number i: a chain of 20 directories under a
// root, each with a few files, all derived from i, so that the test can
// rebuild what the child put. Returned leaves first.
func crashClosure(i int) []*castore.Directory {
	var dirs []*castore.Directory
	var below *castore.Directory
	for depth := range 20 {
		es := []castore.Entry{}
		for f := range 5 {
			es = append(es, castore.Entry{Name: castore.PathComponent(fmt.Sprintf("f%d-%d-%d", i, depth, f)), Node: castore.FileNode(castore.Sum([]byte(fmt.Sprint(i, depth, f))), uint64(f), false)})
		}
		if below != nil {
			es = append(es, castore.Entry{Name: "sub", Node: below.Node()})
		}
		d, err := castore.NewDirectory(es...)
		if err != nil {
			panic(err)
		}
		dirs = append(dirs, d)
		below = d
	}
	return dirs
}

// TestEmbeddedCrash kills (SIGKILL) a process in the middle of concurrent
// putters. The store must open afterwards; every closure the process
// acknowledged must be there whole, and every root that is there must
// have its whole closure.
func TestEmbeddedCrash(t *testing.T) {
	if path := os.Getenv("CASTORE_CRASH_DB"); path != "" {
		embeddedCrashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "dirs.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmbeddedCrash$")
	cmd.Env = append(os.Environ(), "CASTORE_CRASH_DB="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int]bool{}
	started := 0
	sc := bufio.NewScanner(stdout)
	scan := func() {
		var i int
		if _, err := fmt.Sscanf(sc.Text(), "ACK %d", &i); err == nil {
			acked[i] = true
		} else if _, err := fmt.Sscanf(sc.Text(), "START %d", &i); err == nil {
			started = max(started, i+1)
		} else if strings.HasPrefix(sc.Text(), "ERR") {
			t.Errorf("child: %s", sc.Text())
		}
	}
	for sc.Scan() && len(acked) < 200 {
		scan()
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for sc.Scan() {
		scan()
	}
	cmd.Wait()
	if len(acked) < 200 {
		t.Fatalf("the child acknowledged only %d closures", len(acked))
	}

	e, err := dirstore.OpenEmbedded(path)
	if err != nil {
		t.Fatalf("the store does not open after the kill: %v", err)
	}
	defer e.Close()
	present := 0
	for i := range started + 8 {
		dirs := crashClosure(i)
		root := dirs[len(dirs)-1]
		_, err := e.Get(t.Context(), root.Digest())
		switch {
		case errors.Is(err, castore.ErrNotFound):
			if acked[i] {
				t.Errorf("closure %d was acknowledged but its root is missing", i)
			}
			continue
		case err != nil:
			t.Fatalf("closure %d: %v", i, err)
		}
		present++
		n := 0
		for _, err := range e.GetRecursive(t.Context(), root.Digest()) {
			if err != nil {
				t.Fatalf("closure %d: root present, closure broken: %v", i, err)
			}
			n++
		}
		if n != len(dirs) {
			t.Fatalf("closure %d: %d of %d directories", i, n, len(dirs))
		}
	}
	t.Logf("%d closures acknowledged, %d started, %d roots present after the kill, all whole", len(acked), started, present)
}

func embeddedCrashChild(path string) {
	e, err := dirstore.OpenEmbedded(path)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var next int
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				fmt.Println("START", i)
				mu.Unlock()
				p := e.NewPutter(context.Background())
				for _, d := range crashClosure(i) {
					if err := p.Put(d); err != nil {
						fmt.Println("ERR", err)
					}
				}
				_, err := p.Close()
				mu.Lock()
				if err != nil {
					fmt.Println("ERR", err)
				} else {
					fmt.Println("ACK", i)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
