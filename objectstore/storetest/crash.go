package storetest

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

	"github.com/castore-go/castore/objectstore"
)

// CrashContent is what the crash test stores under key: up to 300 KiB
// derived from the key, so any object can be checked.
func CrashContent(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	n := 1 + int(sum[0])*1200
	return bytes.Repeat(sum[:], n/len(sum)+1)[:n]
}

// crashDirEnv tells the test binary, run again as the crash test's child,
// where its store is.
const crashDirEnv = "CASTORE_CRASH_DIR"

// Crash kills (SIGKILL) a process in the middle of concurrent Puts and
// PutIfAbsents on a store on local disk, once it has acknowledged acks of
// them. Every put it acknowledged must be there and whole, and every
// object there must be whole: a crash leaves old or new versions, never a
// torn one. A process kill keeps the page cache, so this checks atomicity
// and the acknowledgement order, not power-loss durability, which rests
// on the syncs.
//
// The test that calls it (named testName) is run again as the child, with
// the store's directory in the environment; open opens the store in dir,
// in the child and afterwards in the test.
func Crash(t *testing.T, testName string, acks int, open func(dir string) (objectstore.Store, error)) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir, open)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^"+testName+"$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && len(acked) < acks {
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
	if len(acked) < acks {
		t.Fatalf("the child acknowledged only %d puts", len(acked))
	}
	s, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for key := range acked {
		CheckObject(t, s, key, CrashContent(key))
	}
	n := 0
	for info, err := range s.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		CheckObject(t, s, info.Key, CrashContent(info.Key))
		n++
	}
	t.Logf("%d puts acknowledged, %d objects after the kill, all whole", len(acked), n)
}

// crashChild puts until it is killed, printing "ACK <key>" after each
// acknowledged put. Keys repeat, so puts also replace objects.
func crashChild(dir string, open func(dir string) (objectstore.Store, error)) {
	s, err := open(dir)
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
					err = s.Put(ctx, key, bytes.NewReader(CrashContent(key)))
				} else {
					_, err = s.PutIfAbsent(ctx, key, bytes.NewReader(CrashContent(key)))
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
