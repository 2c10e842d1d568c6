package main

import (
	"bytes"
	"os"
	"testing"
)

// A terminal is a terminal, not any character device: /dev/null, where a
// service's stderr often goes, gets no progress line.
func TestTerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Errorf("%s is taken for a terminal", os.DevNull)
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is taken for a terminal")
	}
	if tty, _ := openTerminal(t); !isTerminal(tty) {
		t.Errorf("the pseudo-terminal %s is not taken for a terminal", tty.Name())
	}
}
