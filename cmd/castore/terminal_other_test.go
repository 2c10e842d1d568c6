//go:build !linux

package main

import (
	"os"
	"testing"
)

// openTerminal opens the process's controlling terminal, which a test run
// outside Linux may not have.
func openTerminal(t *testing.T) *os.File {
	t.Helper()
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal helper here, and no controlling terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}
