package grpcapi

import "time"

// SetClientKeepalive changes the keepalive of connections Dial makes from
// now on, and returns a function that restores it.
func SetClientKeepalive(t, timeout time.Duration) (restore func()) {
	old := clientKeepalive
	clientKeepalive.Time, clientKeepalive.Timeout = t, timeout
	return func() { clientKeepalive = old }
}

// SetMaxListChunks bounds the chunks of one PutChunkList to n, and
// returns a function that restores the bound.
func SetMaxListChunks(n int) (restore func()) {
	old := maxListChunks
	maxListChunks = n
	return func() { maxListChunks = old }
}
