//go:build !race

package testenv

// Race is whether the race detector is on (see race.go).
const Race = false
