package objectstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/storetest"
)

func TestDeadlineConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return objectstore.WithDeadline(memstore.New(), time.Minute)
	})
}

// hanging is a backend that never answers: every call waits for its
// context, as a client of a black-holed server does.
type hanging struct{ objectstore.Store }

func (hanging) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (hanging) Put(ctx context.Context, key string, r io.Reader) error {
	<-ctx.Done()
	return ctx.Err()
}
func (hanging) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}
func (hanging) Head(ctx context.Context, key string) (objectstore.ObjectInfo, error) {
	<-ctx.Done()
	return objectstore.ObjectInfo{}, ctx.Err()
}
func (hanging) Delete(ctx context.Context, key string) error {
	<-ctx.Done()
	return ctx.Err()
}
func (hanging) List(ctx context.Context, prefix string) iter.Seq2[objectstore.ObjectInfo, error] {
	return func(yield func(objectstore.ObjectInfo, error) bool) {
		<-ctx.Done()
		yield(objectstore.ObjectInfo{}, ctx.Err())
	}
}

// slowBody answers Get at once but its body never comes.
type slowBody struct{ objectstore.Store }

type stuckReader struct{ ctx context.Context }

func (r stuckReader) Read([]byte) (int, error) { <-r.ctx.Done(); return 0, r.ctx.Err() }
func (stuckReader) Close() error               { return nil }

func (slowBody) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return stuckReader{ctx}, nil
}

// Every call on a backend that does not answer fails, naming the timeout,
// instead of hanging.
func TestDeadlineBoundsEveryCall(t *testing.T) {
	s := objectstore.WithDeadline(hanging{memstore.New()}, 50*time.Millisecond)
	ctx := context.Background()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "longer than 50ms") && !strings.Contains(err.Error(), "stalled for 50ms") {
			t.Errorf("%s on a hanging backend: %v, want a deadline error naming the timeout", op, err)
		}
	}
	_, err := s.Get(ctx, "k")
	check("Get", err)
	check("Put", s.Put(ctx, "k", bytes.NewReader(nil)))
	_, err = s.PutIfAbsent(ctx, "k", bytes.NewReader(nil))
	check("PutIfAbsent", err)
	_, err = s.Head(ctx, "k")
	check("Head", err)
	check("Delete", s.Delete(ctx, "k"))
	for _, err := range s.List(ctx, "") {
		check("List", err)
	}
	r, err := objectstore.WithDeadline(slowBody{memstore.New()}, 50*time.Millisecond).Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	check("reading a Get body", err)
	r.Close()
}
