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
	t.Skip("no pseudo-terminal helper outside Linux")
	return nil, nil
}
