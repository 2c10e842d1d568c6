package grpcapi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Role is what a token may do.
type Role int

const (
	RoleNone Role = iota
	// RoleRead may Stat, Read and Get.
	RoleRead
	// RoleWrite may also Put.
	RoleWrite
)

func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	}
	return "none"
}

// Tokens is a set of bearer tokens, kept only as SHA-256 hashes.
type Tokens struct {
	hashes [][sha256.Size]byte
	roles  []Role
}

// HashToken returns the hex SHA-256 of a token, the form a tokens file
// holds.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// LoadTokens reads a tokens file: one "SHA256-HEX ROLE" per line, ROLE
// being read or write; blank lines and lines starting with # are ignored.
// Errors name the line, never its contents.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	t := &Tokens{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("tokens file %s line %d: want \"SHA256-HEX ROLE\"", path, n)
		}
		raw, err := hex.DecodeString(fields[0])
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("tokens file %s line %d: the hash must be 64 hex characters (sha256 of the token)", path, n)
		}
		var role Role
		switch fields[1] {
		case "read":
			role = RoleRead
		case "write":
			role = RoleWrite
		default:
			return nil, fmt.Errorf("tokens file %s line %d: role %q is not read or write", path, n, fields[1])
		}
		t.hashes = append(t.hashes, [sha256.Size]byte(raw))
		t.roles = append(t.roles, role)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if len(t.hashes) == 0 {
		return nil, fmt.Errorf("tokens file %s holds no tokens", path)
	}
	return t, nil
}

// Role returns the role of token. It compares against every entry in
// constant time, so the answer's timing says nothing about the tokens.
func (t *Tokens) Role(token string) Role {
	h := sha256.Sum256([]byte(token))
	role := RoleNone
	for i := range t.hashes {
		if subtle.ConstantTimeCompare(h[:], t.hashes[i][:]) == 1 {
			role = max(role, t.roles[i])
		}
	}
	return role
}

// writeMethods are the RPCs that store data.
var writeMethods = map[string]bool{
	"/tvix.castore.v1.BlobService/Put":      true,
	"/tvix.castore.v1.DirectoryService/Put": true,

	"/snix.castore.v1.BlobService/Put":            true,
	"/snix.castore.v1.DirectoryService/Put":       true,
	"/snix.castore.v1.BlobStoreService/PutBlob":   true,
	"/snix.castore.v1.ChunkStoreService/PutChunk": true,
	"/castore.v1.ChunkService/PutCompressed":      true,
	"/castore.v1.ChunkService/PutCompressedBatch": true,
	"/castore.v1.ChunkService/PutChunkList":       true,
	"/castore.v1.RefService/Set":                  true,
	"/castore.v1.RefService/Delete":               true,
}

// openMethods need no token: health checks come from the orchestrator.
var openMethods = map[string]bool{
	"/grpc.health.v1.Health/Check": true,
	"/grpc.health.v1.Health/Watch": true,
	"/grpc.health.v1.Health/List":  true,
}

// Access decides who may call what: with Tokens set, every RPC but health
// checks needs "authorization: Bearer TOKEN" (the scheme in any case) with a role that allows it
// (no or unknown token: UNAUTHENTICATED; a read token on a write:
// PERMISSION_DENIED); with ReadOnly, writes are refused for everybody.
type Access struct {
	Tokens   *Tokens
	ReadOnly bool
	// Logger, if set, gets a warning for every call refused here, and
	// every call answered PERMISSION_DENIED or DATA_LOSS, with its
	// method and peer (never its token).
	Logger *slog.Logger
}

func (a *Access) check(ctx context.Context, method string) error {
	write := writeMethods[method]
	if write && a.ReadOnly {
		return status.Error(codes.PermissionDenied, "this server is read-only")
	}
	if a.Tokens == nil || openMethods[method] {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var token string
	for _, v := range md.Get("authorization") {
		if t, ok := BearerToken(v); ok {
			token = t
		}
	}
	if token == "" {
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	role := a.Tokens.Role(token)
	switch {
	case role == RoleNone:
		return status.Error(codes.Unauthenticated, "the bearer token is not known")
	case write && role < RoleWrite:
		return status.Error(codes.PermissionDenied, "this token may only read")
	}
	return nil
}

// Interceptors returns the server interceptors that enforce a.
func (a *Access) Interceptors() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := a.check(ctx, info.FullMethod); err != nil {
				a.logRefusal(ctx, info.FullMethod, err)
				return nil, err
			}
			resp, err := h(ctx, req)
			a.logRefusal(ctx, info.FullMethod, err)
			return resp, err
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := a.check(ss.Context(), info.FullMethod); err != nil {
				a.logRefusal(ss.Context(), info.FullMethod, err)
				return err
			}
			err := h(srv, ss)
			a.logRefusal(ss.Context(), info.FullMethod, err)
			return err
		}),
	}
}

// bearer is per-RPC credentials carrying a token.
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }

// WithToken makes a client send token with every call. Over grpc+https
// only, unless insecureOK (loopback and unix sockets).
func WithToken(token string, insecureOK bool) grpc.DialOption {
	return grpc.WithPerRPCCredentials(bearer{token: token, secure: !insecureOK})
}
