package grpcapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
	pb "github.com/castore-go/castore/castorepb"
	"github.com/castore-go/castore/chunkfmt"
	"github.com/castore-go/castore/grpcapi"
)

func writeTokens(t *testing.T, lines ...string) string {
	p := filepath.Join(t.TempDir(), "tokens")
	must(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoadTokensRejects(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"abc read", "64 hex"},
		{grpcapi.HashToken("x") + " admin", `role "admin"`},
		{grpcapi.HashToken("x"), "want"},
		{"# only a comment", "no tokens"},
	} {
		_, err := grpcapi.LoadTokens(writeTokens(t, tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadTokens(%q) = %v, want %q", tc.body, err, tc.want)
		}
	}
	if _, err := grpcapi.LoadTokens(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file loaded")
	}
}

// Every token case: no token, unknown token, read token on read and write,
// write token on both, and --read-only. The backend is down, so a call that
// passes the access check answers UNAVAILABLE.
func TestTokens(t *testing.T) {
	tokens, err := grpcapi.LoadTokens(writeTokens(t,
		"# castore tokens",
		grpcapi.HashToken("reader-secret")+" read",
		"",
		grpcapi.HashToken("writer-secret")+" write"))
	must(t, err)
	for _, tc := range []struct {
		name        string
		access      grpcapi.Access
		token       string
		read, write codes.Code
	}{
		{"no token", grpcapi.Access{Tokens: tokens}, "", codes.Unauthenticated, codes.Unauthenticated},
		{"unknown token", grpcapi.Access{Tokens: tokens}, "guess", codes.Unauthenticated, codes.Unauthenticated},
		{"read token", grpcapi.Access{Tokens: tokens}, "reader-secret", codes.Unavailable, codes.PermissionDenied},
		{"write token", grpcapi.Access{Tokens: tokens}, "writer-secret", codes.Unavailable, codes.Unavailable},
		{"read-only, write token", grpcapi.Access{Tokens: tokens, ReadOnly: true}, "writer-secret", codes.Unavailable, codes.PermissionDenied},
		{"read-only, no tokens", grpcapi.Access{ReadOnly: true}, "", codes.Unavailable, codes.PermissionDenied},
		{"open", grpcapi.Access{}, "", codes.Unavailable, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listenTCP(t)
			s := grpc.NewServer(tc.access.Interceptors()...)
			grpcapi.Register(s, failing{}, failing{})
			grpcapi.RegisterRefs(s, failingRefs{})
			go s.Serve(l)
			t.Cleanup(s.Stop)
			tf := filepath.Join(t.TempDir(), "token")
			addr := "grpc+http://" + l.Addr().String()
			if tc.token != "" {
				must(t, os.WriteFile(tf, []byte(tc.token+"\n"), 0o600))
				addr += "?token-file=" + tf
			}
			conn, err := grpcapi.Dial(context.Background(), addr, noRetry)
			must(t, err)
			defer conn.Close()
			ctx := ctxT(t)
			d := castore.Sum([]byte("x"))
			_, err = pb.NewBlobServiceClient(conn).Stat(ctx, &pb.StatBlobRequest{Digest: d[:]})
			wantCode(t, "Stat", err, tc.read)
			cs, err := pb.NewChunkServiceClient(conn).ReadCompressed(ctx, &pb.ReadCompressedRequest{Digest: d[:]})
			if err == nil {
				_, err = cs.Recv()
			}
			wantCode(t, "ReadCompressed", err, tc.read)
			bs, err := pb.NewChunkServiceClient(conn).ReadCompressedBatch(ctx, &pb.ReadCompressedBatchRequest{Digests: [][]byte{d[:]}})
			if err == nil {
				_, err = bs.Recv()
			}
			wantCode(t, "ReadCompressedBatch", err, tc.read)
			ps, err := pb.NewBlobServiceClient(conn).Put(ctx)
			if err == nil {
				ps.Send(&pb.BlobChunk{Data: []byte("x")})
				_, err = ps.CloseAndRecv()
			}
			wantCode(t, "Put", err, tc.write)
			pcs, err := pb.NewChunkServiceClient(conn).PutCompressedBatch(ctx)
			if err == nil {
				enc, _ := chunkfmt.NewEncoder()
				pcs.Send(&pb.PutCompressedRequest{Digest: d[:], Size: 1, Data: enc.Encode([]byte("x"))})
				_, err = pcs.CloseAndRecv()
			}
			wantCode(t, "PutCompressedBatch", err, tc.write)
			pls, err := pb.NewChunkServiceClient(conn).PutChunkList(ctx)
			if err == nil {
				pls.Send(&pb.PutChunkListRequest{Chunks: []*pb.ListedChunk{{Digest: d[:], Size: 1}}, Digest: d[:]})
				_, err = pls.CloseAndRecv()
			}
			wantCode(t, "PutChunkList", err, tc.write)
			_, err = putStream(ctx, pb.NewDirectoryServiceClient(conn), toPB(diamond(t)...))
			wantCode(t, "directory Put", err, tc.write)
			for name, err := range snixCalls(ctx, conn) {
				want := tc.read
				if isSnixWrite(name) {
					want = tc.write
				}
				wantCode(t, "snix "+name, err, want)
			}
			for name, err := range refCalls(ctx, conn) {
				want := tc.read
				if name == "Set" || name == "Delete" {
					want = tc.write
				}
				wantCode(t, "RefService "+name, err, want)
			}
		})
	}
}

// refCalls makes one call of each castore.v1.RefService method.
func refCalls(ctx context.Context, conn grpc.ClientConnInterface) map[string]error {
	rc := pb.NewRefServiceClient(conn)
	root := pb.FromNode(nil, castore.SymlinkNode("x"))
	calls := map[string]error{}
	_, calls["Get"] = rc.Get(ctx, &pb.GetTagRequest{Name: "a"})
	_, calls["Set"] = rc.Set(ctx, &pb.SetTagRequest{Tag: &pb.Tag{Name: "a", Root: root}})
	_, calls["Delete"] = rc.Delete(ctx, &pb.DeleteTagRequest{Name: "a"})
	ls, err := rc.List(ctx, &pb.ListTagsRequest{})
	if err == nil {
		_, err = ls.Recv()
	}
	calls["List"] = err
	return calls
}

func TestTokenNotSentInClear(t *testing.T) {
	tf := filepath.Join(t.TempDir(), "token")
	must(t, os.WriteFile(tf, []byte("s3cret"), 0o600))
	_, err := grpcapi.Dial(context.Background(), "grpc+http://castore.example.com:80?token-file="+tf)
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("token over plain http to a remote host: %v", err)
	}
}

// pki writes a CA and certificates it signs into dir.
type pki struct {
	dir  string
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	name string
}

func newPKI(t *testing.T, name string) *pki {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	ca, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), ca: ca, key: key, name: name}
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

// issue writes name.pem and name-key.pem, for a server on 127.0.0.1 or a
// client.
func (p *pki) issue(t *testing.T, name string, client bool) (cert, key string) {
	key2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key2.PublicKey, p.key)
	must(t, err)
	kder, err := x509.MarshalECPrivateKey(key2)
	must(t, err)
	cert, key = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem")
	writePEM(t, cert+".tmp", "CERTIFICATE", der)
	writePEM(t, key+".tmp", "EC PRIVATE KEY", kder)
	must(t, os.Rename(key+".tmp", key))
	must(t, os.Rename(cert+".tmp", cert))
	return cert, key
}

func (p *pki) caFile() string { return filepath.Join(p.dir, "ca.pem") }

// tlsServer serves on loopback with TLS from the given files.
func tlsServer(t *testing.T, cert, key, clientCA string) string {
	cfg, err := grpcapi.ServerTLS(cert, key, clientCA)
	must(t, err)
	l := listenTCP(t)
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	grpcapi.Register(s, failing{}, nil)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return l.Addr().String()
}

// call makes one Stat over a fresh connection; reaching the (failing)
// backend means the TLS handshake succeeded.
func call(t *testing.T, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := grpcapi.Dial(ctx, addr, noRetry)
	if err != nil {
		return err
	}
	defer conn.Close()
	d := castore.Sum(nil)
	_, err = pb.NewBlobServiceClient(conn).Stat(ctx, &pb.StatBlobRequest{Digest: d[:], SendChunks: true})
	if status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "backend is down") {
		return nil
	}
	return err
}

func TestTLSAndMutualTLS(t *testing.T) {
	ca, other := newPKI(t, "good"), newPKI(t, "other")
	scert, skey := ca.issue(t, "server", false)
	addr := tlsServer(t, scert, skey, "")
	if err := call(t, "grpc+https://"+addr+"?ca="+ca.caFile()); err != nil {
		t.Errorf("TLS with the right CA: %v", err)
	}
	if err := call(t, "grpc+https://"+addr+"?ca="+other.caFile()); err == nil {
		t.Error("TLS with the wrong CA succeeded")
	}
	if err := call(t, "grpc+http://"+addr); err == nil {
		t.Error("plaintext to a TLS server succeeded")
	}

	maddr := tlsServer(t, scert, skey, ca.caFile())
	ccert, ckey := ca.issue(t, "client", true)
	bcert, bkey := other.issue(t, "intruder", true)
	if err := call(t, "grpc+https://"+maddr+"?ca="+ca.caFile()+"&cert="+ccert+"&key="+ckey); err != nil {
		t.Errorf("mTLS with a good client certificate: %v", err)
	}
	if err := call(t, "grpc+https://"+maddr+"?ca="+ca.caFile()); err == nil {
		t.Error("mTLS without a client certificate succeeded")
	}
	if err := call(t, "grpc+https://"+maddr+"?ca="+ca.caFile()+"&cert="+bcert+"&key="+bkey); err == nil {
		t.Error("mTLS with a client certificate from another CA succeeded")
	}
}

func TestTLSCertificateReload(t *testing.T) {
	a, b := newPKI(t, "a"), newPKI(t, "b")
	cert, key := a.issue(t, "server", false)
	addr := tlsServer(t, cert, key, "")
	if err := call(t, "grpc+https://"+addr+"?ca="+b.caFile()); err == nil {
		t.Fatal("a client trusting only CA b accepted CA a's certificate")
	}
	// Renew the certificate in place, now signed by b.
	time.Sleep(1100 * time.Millisecond) // the reloader looks at most once a second
	nc, nk := b.issue(t, "server", false)
	must(t, os.Rename(nk, key))
	must(t, os.Rename(nc, cert))
	var err error
	for range 3 {
		time.Sleep(1100 * time.Millisecond)
		if err = call(t, "grpc+https://"+addr+"?ca="+b.caFile()); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("after renewal, a client trusting CA b: %v", err)
	}
}
