//go:build !linux

package main

import (
	"os"
	"testing"
)

// openTerminal would open a pseudo-terminal; this test helper knows how
// only on Linux.
func openTerminal(t *testing.T) (tty, screen *os.File) {
	t.Helper()
	t.Fatal("the terminal tests open a pseudo-terminal, which this helper does only on Linux; run them there")
	return nil, nil
}
