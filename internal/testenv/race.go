//go:build race

package testenv

// Race is whether the race detector is on. Under it sync.Pool drops a
// quarter of what is put back and allocations differ, so tests that count
// what reusing buffers saves run without it (`make allocs`, part of
// `make test`).
const Race = true
