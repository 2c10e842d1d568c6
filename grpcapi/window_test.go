package grpcapi_test

import (
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/castore-go/castore/chunkstore"
	"github.com/castore-go/castore/dirstore"
	"github.com/castore-go/castore/grpcapi"
)

// TestServerWindows reads what a server with ServerOptions tells a new
// connection, frame by frame: the stream window in its SETTINGS and the
// connection window in its first WINDOW_UPDATE, both fixed from the
// start, so that a client far away need not wait for them to grow.
func TestServerWindows(t *testing.T) {
	l := listenTCP(t)
	serve(t, l, chunkstore.NewMemory(), dirstore.NewMemory())
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var stream, conn uint32
	for stream == 0 || conn == 0 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's first frames (stream window %d, connection window %d so far): %v", stream, conn, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			v, ok := f.Value(http2.SettingInitialWindowSize)
			if !ok {
				t.Fatal("the server's SETTINGS name no initial window size: it keeps HTTP/2's 64 KiB")
			}
			stream = v
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				conn = 65535 + f.Increment
			}
		}
	}
	if stream != grpcapi.ServerStreamWindow || conn != grpcapi.ServerConnWindow {
		t.Errorf("windows: stream %d, connection %d; want %d and %d", stream, conn, grpcapi.ServerStreamWindow, grpcapi.ServerConnWindow)
	}
}
