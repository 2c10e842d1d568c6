//go:build !linux

package testenv

import "os/exec"

// dieWithParent does nothing outside Linux: a server may outlive a test
// binary that dies without running its cleanups.
func dieWithParent(*exec.Cmd) {}
