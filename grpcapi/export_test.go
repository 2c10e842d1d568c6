package grpcapi

import "time"

// SetClientKeepalive changes the keepalive of connections Dial makes from
// now on, and returns a function that restores it.
func SetClientKeepalive(t, timeout time.Duration) (restore func()) {
	old := clientKeepalive
	clientKeepalive.Time, clientKeepalive.Timeout = t, timeout
	return func() { clientKeepalive = old }
}
