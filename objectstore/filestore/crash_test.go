package filestore_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/storetest"
)

// crashContent is what the crash test stores under key: up to 300 KiB
// derived from the key, so any object can be checked.
func crashContent(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	n := 1 + int(sum[0])*1200
	return bytes.Repeat(sum[:], n/len(sum)+1)[:n]
}

// TestFileCrash kills (SIGKILL) a process in the middle of concurrent puts
// and PutIfAbsents. Every put the process acknowledged must be there and
// whole, and every object there must be whole: a crash leaves old or new
// versions, never a torn one. A process kill keeps the page cache, so this
// checks atomicity and the acknowledgement order, not power-loss
// durability, which rests on the syncs (see SyncGroup).
func TestFileCrash(t *testing.T) {
	if dir := os.Getenv("CASTORE_CRASH_DIR"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileCrash$")
	cmd.Env = append(os.Environ(), "CASTORE_CRASH_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && len(acked) < 300 {
		if key, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
			acked[key] = true
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for sc.Scan() { // acknowledgements printed before the kill landed
		if key, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
			acked[key] = true
		}
	}
	cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("the child acknowledged only %d puts", len(acked))
	}

	s, err := filestore.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for key := range acked {
		storetest.CheckObject(t, s, key, crashContent(key))
	}
	n := 0
	for info, err := range s.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		storetest.CheckObject(t, s, info.Key, crashContent(info.Key))
		n++
	}
	t.Logf("%d puts acknowledged, %d objects after the kill, all whole", len(acked), n)
}

// crashChild puts until it is killed, printing "ACK <key>" after each
// acknowledged put. Keys repeat, so puts also replace objects.
func crashChild(dir string) {
	s, err := filestore.New(dir, nil)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	ctx := context.Background()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("chunks/%02x/k%d", (w*31+i)%16, i%50)
				var err error
				if i%2 == 0 {
					err = s.Put(ctx, key, bytes.NewReader(crashContent(key)))
				} else {
					_, err = s.PutIfAbsent(ctx, key, bytes.NewReader(crashContent(key)))
				}
				mu.Lock()
				if err != nil {
					fmt.Println("ERR", err)
				} else {
					fmt.Println("ACK", key)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
