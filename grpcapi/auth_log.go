package grpcapi

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// BearerToken returns the token of an Authorization value whose scheme
// is Bearer, in any case (RFC 6750 and RFC 9110 make auth schemes case
// insensitive): "Bearer T", "bearer T" and "BEARER T" all carry T.
func BearerToken(v string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok := strings.TrimSpace(rest)
	return tok, tok != ""
}

// logRefusal logs, at warning, a call refused by the access rules or
// answered with PERMISSION_DENIED or DATA_LOSS: the method, the peer, the
// code and the status message, which never holds a token (check's
// messages name none, and a store's errors see none).
func (a *Access) logRefusal(ctx context.Context, method string, err error) {
	if a.Logger == nil || err == nil {
		return
	}
	st, ok := status.FromError(err)
	if !ok {
		return
	}
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied, codes.DataLoss:
	default:
		return
	}
	addr := "unknown"
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
	}
	a.Logger.Warn("call refused or data lost", "method", method, "peer", addr, "code", st.Code().String(), "msg", st.Message())
}
