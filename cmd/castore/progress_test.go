package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore/ingest"
)

// The progress line: nothing but on a terminal; there, the files, bytes
// and rate, and once the total is known a bar with the percentage; the
// line is cleared when the work ends.
func TestProgress(t *testing.T) {
	var p ingest.Progress
	p.Files.Store(2)
	p.Bytes.Store(1 << 20)
	var buf bytes.Buffer
	stop := showProgress(&buf, &p)
	time.Sleep(700 * time.Millisecond)
	stop()
	if buf.Len() != 0 {
		t.Errorf("progress on a buffer: %q", buf.String())
	}

	tty, screen := openTerminal(t)
	stop = showProgress(tty, &p)
	// An import's: no total.
	got := readScreen(t, screen, "2 files", "1.0 MiB")
	if strings.Contains(got, "%") {
		t.Errorf("a bar without a total: %q", got)
	}
	// An export's, once it has read the closure.
	p.TotalFiles.Store(4)
	p.TotalBytes.Store(4 << 20)
	readScreen(t, screen, "2/4 files", "25%", "1.0/4.0 MiB")
	stop()
	if got := readScreen(t, screen); !strings.HasSuffix(got, "\x1b[2K\r") {
		t.Errorf("the line is not cleared at the end: %q", got)
	}
}

// readScreen reads what the terminal shows until it holds every one of
// want, or, with none, until nothing more comes; it fails the test after
// five seconds.
func readScreen(t *testing.T, screen *os.File, want ...string) string {
	t.Helper()
	var got []byte
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 4096)
	for {
		has := len(want) > 0
		for _, w := range want {
			has = has && bytes.Contains(got, []byte(w))
		}
		if has {
			return string(got)
		}
		wait := time.Until(deadline)
		if len(want) == 0 {
			wait = 300 * time.Millisecond
		}
		if err := screen.SetReadDeadline(time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		n, err := screen.Read(buf)
		got = append(got, buf[:n]...)
		if errors.Is(err, os.ErrDeadlineExceeded) && len(want) == 0 {
			return string(got)
		}
		if err != nil {
			t.Fatalf("terminal shows %q, want %q: %v", got, want, err)
		}
	}
}
