package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/grpcapi"
	"github.com/castore-go/castore/internal/testenv"
)

// freeAddr is a loopback host:port nothing listens on.
func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

// get fetches url with the headers given as name, value pairs.
func get(t *testing.T, client *http.Client, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, string(b)
}

// waitHTTP waits until addr answers HTTP.
func waitHTTP(t *testing.T, client *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 30s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serve --http-listen serves the trees it stores over HTTP, beside gRPC.
func TestServeHTTP(t *testing.T) {
	c := newCLI(t)
	web := freeAddr(t)
	addr := c.serve("--data-dir", filepath.Join(t.TempDir(), "server"), "--http-listen", web, "--index-names", "index.html")
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = addr
	dir := fixtureTree(t)
	if err := os.WriteFile(filepath.Join(dir, "keep", "index.html"), []byte("<p>kept</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(c.ok("import", dir))
	base := "http://" + web + "/b3/" + root
	waitHTTP(t, http.DefaultClient, "http://"+web+"/")

	resp, b := get(t, http.DefaultClient, base+"/keep/tool")
	if resp.StatusCode != 200 || b != "#!/bin/sh\necho hi\n" || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("GET keep/tool: %d %q %v", resp.StatusCode, b, resp.Header)
	}
	resp, b = get(t, http.DefaultClient, base+"/")
	if resp.StatusCode != 200 || !strings.Contains(b, "./keep/") || !strings.Contains(b, "/nix/store/somewhereelse (outside this tree)") {
		t.Errorf("GET /: %d %s", resp.StatusCode, b)
	}
	if _, b = get(t, http.DefaultClient, base+"/keep/"); b != "<p>kept</p>" {
		t.Errorf("GET keep/ with --index-names index.html: %q", b)
	}
	resp, _ = get(t, http.DefaultClient, base+"/?format=tar")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-tar" {
		t.Errorf("?format=tar: %d %v", resp.StatusCode, resp.Header)
	}
}

// castore http is a gateway in front of any store: here, a server.
func TestHTTPGateway(t *testing.T) {
	c := newCLI(t)
	addr := c.serve("--data-dir", filepath.Join(t.TempDir(), "server"))
	c.env["CASTORE_BLOB_SERVICE_ADDR"] = addr
	c.env["CASTORE_DIRECTORY_SERVICE_ADDR"] = addr
	root := strings.TrimSpace(c.ok("import", fixtureTree(t)))
	web := c.gateway("--auto-index=false", "--index-names", "tool")
	resp, b := get(t, http.DefaultClient, "http://"+web+"/b3/"+root+"/keep/")
	if resp.StatusCode != 200 || b != "#!/bin/sh\necho hi\n" {
		t.Errorf("keep/ with --index-names tool: %d %q", resp.StatusCode, b)
	}
	if resp, _ := get(t, http.DefaultClient, "http://"+web+"/b3/"+root+"/"); resp.StatusCode != 403 {
		t.Errorf("/ without --auto-index: %d, want 403", resp.StatusCode)
	}
	d := castore.Sum([]byte("#!/bin/sh\necho hi\n"))
	if _, b := get(t, http.DefaultClient, "http://"+web+"/blobs/"+d.Hex()); b != "#!/bin/sh\necho hi\n" {
		t.Errorf("/blobs/: %q", b)
	}
}

// gateway starts castore http with args on a free loopback port and
// returns its host:port; it stops when the test ends.
func (c *cli) gateway(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	var errb bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &errb, getenv: func(k string) string { return c.env[k] },
		onListen: func(a net.Addr) { addrs <- a }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, append([]string{"http", "--listen", "127.0.0.1:0"}, args...)) }()
	c.t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				c.t.Errorf("http exited %d\n%s", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			c.t.Error("http did not stop within 30s")
		}
	})
	select {
	case a := <-addrs:
		return a.String()
	case code := <-done:
		c.t.Fatalf("http exited %d before listening\n%s", code, errb.String())
	case <-time.After(30 * time.Second):
		c.t.Fatalf("http did not listen within 30s\n%s", errb.String())
	}
	return ""
}

// The HTTP listener has serve's rules: not on a network without TLS or
// tokens; with tokens, every request needs the read role; with TLS, it
// is HTTPS.
func TestServeHTTPAccess(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"serve", "--data-dir", t.TempDir(), "--http-listen", "0.0.0.0:0"},
		{"http", "--listen", "0.0.0.0:0"},
		{"http", "--tls-cert", "x"},
		{"http", "--index-names", "a/b"},
	} {
		if code, _, errs := c.run(nil, args...); code != 2 {
			t.Errorf("castore %s: exit %d, want 2: %s", strings.Join(args, " "), code, errs)
		}
	}

	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(grpcapi.HashToken("r3ad")+" read\n"+grpcapi.HashToken("wr1te")+" write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key, pool := selfSigned(t, dir)
	web := freeAddr(t)
	c.serve("--data-dir", filepath.Join(dir, "server"), "--http-listen", web, "--auth-tokens", tokens, "--tls-cert", cert, "--tls-key", key)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	waitHTTP(t, client, "https://"+web+"/")
	for _, c := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer nobody", 401}, {"Bearer r3ad", 404}, {"Bearer wr1te", 404}} {
		var hdr []string
		if c.auth != "" {
			hdr = []string{"Authorization", c.auth}
		}
		resp, _ := get(t, client, "https://"+web+"/b3/"+castore.EmptyDigest.Hex()+"/x", hdr...)
		if resp.StatusCode != c.code {
			t.Errorf("%q: %d, want %d", c.auth, resp.StatusCode, c.code)
		}
		if resp.TLS == nil {
			t.Errorf("not HTTPS")
		}
	}
	if resp, err := http.Get("http://" + web + "/"); err == nil && resp.StatusCode < 400 {
		t.Errorf("plain HTTP on the TLS listener: %d", resp.StatusCode)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "castore test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// The HTTP side's metrics are on serve's /metrics beside gRPC's:
// otelhttp's request durations, by method and status.
func TestServeHTTPMetrics(t *testing.T) {
	c := newCLI(t)
	web, metrics := freeAddr(t), freeAddr(t)
	c.serve("--data-dir", filepath.Join(t.TempDir(), "server"), "--http-listen", web, "--metrics-listen", metrics)
	waitHTTP(t, http.DefaultClient, "http://"+web+"/")
	get(t, http.DefaultClient, "http://"+web+"/b3/"+castore.EmptyDigest.Hex()+"/")
	text := scrape(t, metrics)
	for _, want := range [][2]string{
		{"http_server_request_duration_seconds_count{", `http_response_status_code="200"`},
		{"http_server_request_duration_seconds_count{", `http_response_status_code="404"`},
	} {
		if !hasMetric(text, want[0], want[1]) {
			t.Errorf("/metrics has no %s with %s", want[0], want[1])
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}
