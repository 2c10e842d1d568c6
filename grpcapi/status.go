// This file is the one place where castore errors become gRPC status codes
// and back.

package grpcapi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/castore-go/castore"
)

// toStatus maps a castore error to a gRPC status error:
// ErrConflict -> ABORTED, ErrIncomplete -> FAILED_PRECONDITION, ErrNotFound -> NOT_FOUND,
// ErrInvalid -> INVALID_ARGUMENT, ErrCorrupt -> DATA_LOSS, context errors -> CANCELED / DEADLINE_EXCEEDED,
// errors.ErrUnsupported -> UNIMPLEMENTED, and any other
// backend failure (castore.ErrUnavailable among them) -> UNAVAILABLE (the
// caller may retry; it is never a silent success); a client maps
// UNAVAILABLE back to castore.ErrUnavailable. A status error passes
// through unchanged.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var code codes.Code
	switch {
	case errors.Is(err, castore.ErrConflict):
		code = codes.Aborted
	case errors.Is(err, castore.ErrIncomplete):
		code = codes.FailedPrecondition
	case errors.Is(err, castore.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, castore.ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, castore.ErrCorrupt):
		code = codes.DataLoss
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, errors.ErrUnsupported):
		code = codes.Unimplemented
	default:
		code = codes.Unavailable
	}
	return status.Error(code, err.Error())
}

// statusError is an error received from a server. It keeps the status
// (for status.FromError) and matches the castore sentinel of its code.
type statusError struct {
	st       *status.Status
	sentinel error
}

func (e *statusError) Error() string              { return e.st.Message() + " (" + e.st.Code().String() + ")" }
func (e *statusError) GRPCStatus() *status.Status { return e.st }
func (e *statusError) Unwrap() error              { return e.sentinel }

// fromStatus maps a gRPC error from a server back to castore errors, so
// callers of a client test it with errors.Is as with any other service.
func fromStatus(op string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	var sentinel error
	switch st.Code() {
	case codes.Aborted:
		sentinel = castore.ErrConflict
	case codes.FailedPrecondition:
		sentinel = castore.ErrIncomplete
	case codes.NotFound:
		sentinel = castore.ErrNotFound
	case codes.InvalidArgument:
		sentinel = castore.ErrInvalid
	case codes.DataLoss:
		sentinel = castore.ErrCorrupt
	case codes.Canceled:
		sentinel = context.Canceled
	case codes.DeadlineExceeded:
		sentinel = context.DeadlineExceeded
	case codes.Unimplemented:
		sentinel = errors.ErrUnsupported
	case codes.Unavailable:
		sentinel = castore.ErrUnavailable
	}
	return fmt.Errorf("%s: %w", op, &statusError{st: st, sentinel: sentinel})
}

// digestArg parses a digest from a request field.
func digestArg(field string, b []byte) (castore.Digest, error) {
	d, err := castore.DigestFromBytes(b)
	if err != nil {
		return d, status.Errorf(codes.InvalidArgument, "%s: digest must be %d bytes, got %d", field, castore.DigestSize, len(b))
	}
	return d, nil
}
