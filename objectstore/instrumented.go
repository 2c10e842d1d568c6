package objectstore

import (
	"context"
	"errors"
	"io"
	"iter"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Instrumented wraps a Store so that every call is a trace span and is
// counted: castore_objectstore_calls (by op and result), its latency, and
// the bytes put and read. It uses the global OpenTelemetry providers, so it
// costs next to nothing until a program installs real ones.
type Instrumented struct {
	Store
	backend string
	tracer  trace.Tracer
	calls   metric.Int64Counter
	latency metric.Float64Histogram
	bytes   metric.Int64Counter
	// attrs holds the measurement attributes of each (op, result) and of
	// each op's bytes (result ""), made once: a call of a store that
	// answers from memory costs little more than its span then.
	attrs sync.Map // opResult -> *measurement
}

// Instrument wraps s; backend names it in spans and metrics ("s3", "gcs",
// "file", "memory").
func Instrument(s Store, backend string) *Instrumented {
	m := otel.Meter("github.com/castore-go/castore/objectstore")
	calls, _ := m.Int64Counter("castore_objectstore_calls", metric.WithDescription("object store calls, by op and result"))
	latency, _ := m.Float64Histogram("castore_objectstore_latency_seconds", metric.WithDescription("object store call latency"), metric.WithUnit("s"))
	bytes, _ := m.Int64Counter("castore_objectstore_bytes", metric.WithDescription("bytes put to and read from the object store, by op"), metric.WithUnit("By"))
	return &Instrumented{Store: s, backend: backend, tracer: otel.Tracer("github.com/castore-go/castore/objectstore"), calls: calls, latency: latency, bytes: bytes}
}

var _ Store = (*Instrumented)(nil)

type opResult struct{ op, result string }

// measurement is the attributes of one (op, result), as the options the
// instruments take, so that passing them allocates nothing.
type measurement struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// measured returns the attributes of a measurement of op with result
// ("" for bytes, which have none).
func (s *Instrumented) measured(op, result string) *measurement {
	k := opResult{op, result}
	if m, ok := s.attrs.Load(k); ok {
		return m.(*measurement)
	}
	kvs := []attribute.KeyValue{attribute.String("backend", s.backend), attribute.String("op", op)}
	if result != "" {
		kvs = append(kvs, attribute.String("result", result))
	}
	o := metric.WithAttributeSet(attribute.NewSet(kvs...))
	m, _ := s.attrs.LoadOrStore(k, &measurement{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}})
	return m.(*measurement)
}

// spanNames are the span names of the ops, made once.
var spanNames sync.Map // op -> "objectstore."+op

func spanName(op string) string {
	if n, ok := spanNames.Load(op); ok {
		return n.(string)
	}
	n, _ := spanNames.LoadOrStore(op, "objectstore."+op)
	return n.(string)
}

// clientSpan is the options of every call's span.
var clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

func (s *Instrumented) start(ctx context.Context, op, key string) (context.Context, func(error)) {
	ctx, span := s.tracer.Start(ctx, spanName(op), clientSpan...)
	if span.IsRecording() {
		// Set only on a span that records: without a tracer provider (or
		// unsampled) they would be made for nothing, on every call.
		span.SetAttributes(attribute.String("objectstore.backend", s.backend), attribute.String("objectstore.key", key))
	}
	began := time.Now()
	return ctx, func(err error) {
		result := "ok"
		switch {
		case err == nil:
		case errors.Is(err, ErrNotFound):
			result = "not_found"
		case errors.Is(err, ErrPrecondition):
			result = "precondition_failed" // a lost compare-and-swap: another writer was first
		default:
			result = "error"
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		m := s.measured(op, result)
		s.calls.Add(ctx, 1, m.add...)
		s.latency.Record(ctx, time.Since(began).Seconds(), m.rec...)
		span.End()
	}
}

func (s *Instrumented) countBytes(ctx context.Context, op string, n int64) {
	s.bytes.Add(ctx, n, s.measured(op, "").add...)
}

// Get's span covers opening the object; bytes are counted as they are
// read.
func (s *Instrumented) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	ctx, done := s.start(ctx, "get", key)
	r, err := s.Store.Get(ctx, key)
	done(err)
	if err != nil {
		return nil, err
	}
	return &countingReadCloser{ReadCloser: r, count: func(n int64) { s.countBytes(ctx, "get", n) }}, nil
}

// readerLen is the size of readers that know it (bytes.Reader and the
// like). The reader itself goes to the backend untouched, so it keeps the
// Seek and Len a backend may use.
func readerLen(r io.Reader) int64 {
	if l, ok := r.(interface{ Len() int }); ok {
		return int64(l.Len())
	}
	return -1
}

// putSize returns a function that reports the size of what r put: from
// its Size (bytes.Reader and the like), asked only after the put, so a
// reader that makes its bytes lazily is not made to before the backend
// decides to read it; else from its Len, taken now; else -1.
func putSize(r io.Reader) func() int64 {
	if sz, ok := r.(interface{ Size() int64 }); ok {
		return sz.Size
	}
	n := readerLen(r)
	return func() int64 { return n }
}

func (s *Instrumented) Put(ctx context.Context, key string, r io.Reader) error {
	ctx, done := s.start(ctx, "put", key)
	size := putSize(r)
	err := s.Store.Put(ctx, key, r)
	if err == nil {
		if n := size(); n >= 0 {
			s.countBytes(ctx, "put", n)
		}
	}
	done(err)
	return err
}

func (s *Instrumented) PutIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	ctx, done := s.start(ctx, "put_if_absent", key)
	size := putSize(r)
	created, err := s.Store.PutIfAbsent(ctx, key, r)
	if err == nil && created {
		if n := size(); n >= 0 {
			s.countBytes(ctx, "put", n)
		}
	}
	done(err)
	return created, err
}

func (s *Instrumented) Head(ctx context.Context, key string) (ObjectInfo, error) {
	ctx, done := s.start(ctx, "head", key)
	oi, err := s.Store.Head(ctx, key)
	done(err)
	return oi, err
}

func (s *Instrumented) Delete(ctx context.Context, key string) error {
	ctx, done := s.start(ctx, "delete", key)
	err := s.Store.Delete(ctx, key)
	done(err)
	return err
}

func (s *Instrumented) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		ctx, done := s.start(ctx, "list", prefix)
		var err error
		defer func() { done(err) }()
		for oi, e := range s.Store.List(ctx, prefix) {
			if e != nil {
				err = e
			}
			if !yield(oi, e) {
				return
			}
		}
	}
}

type countingReadCloser struct {
	io.ReadCloser
	count func(int64)
}

func (c *countingReadCloser) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 {
		c.count(int64(n))
	}
	return n, err
}
