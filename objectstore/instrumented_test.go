package objectstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/storetest"
)

// The decorator is held to the same contract as the backends.
func TestInstrumentedConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return objectstore.Instrument(memstore.New(), "memory")
	})
}

// Calls are counted by op and result, and put bytes are counted.
func TestInstrumentedMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	t.Cleanup(func() { otel.SetMeterProvider(prev) })

	s := objectstore.Instrument(memstore.New(), "memory")
	ctx := context.Background()
	if err := s.Put(ctx, "a", bytes.NewReader(make([]byte, 1000))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, "missing"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatal(err)
	}
	// A reader with a Size is asked for it after the put, and only if
	// the object was created: one that makes its bytes lazily is not
	// made to when the backend does not read it.
	lazy := &lazyReader{data: make([]byte, 300)}
	if created, err := s.PutIfAbsent(ctx, "b", lazy); err != nil || !created {
		t.Fatalf("PutIfAbsent: %v, %v", created, err)
	}
	again := &lazyReader{data: make([]byte, 300)}
	if created, err := s.PutIfAbsent(ctx, "b", again); err != nil || created {
		t.Fatalf("PutIfAbsent of a present key: %v, %v", created, err)
	}
	if again.r != nil {
		t.Fatal("PutIfAbsent of a present key made the reader produce its bytes")
	}
	// A lost compare-and-swap is counted as such, not as an error.
	if _, err := objectstore.PutIfVersion(ctx, s, "a", bytes.NewReader(nil), objectstore.NoVersion); !errors.Is(err, objectstore.ErrPrecondition) {
		t.Fatalf("PutIfVersion of a present key expecting none: %v", err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				op, _ := dp.Attributes.Value("op")
				res, _ := dp.Attributes.Value("result")
				got[m.Name+"/"+op.AsString()+"/"+res.AsString()] += dp.Value
			}
		}
	}
	for k, want := range map[string]int64{
		"castore_objectstore_calls/put/ok":                             1,
		"castore_objectstore_calls/head/not_found":                     1,
		"castore_objectstore_bytes/put/":                               1300,
		"castore_objectstore_calls/put_if_version/precondition_failed": 1,
	} {
		if got[k] != want {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], want, got)
		}
	}
}

// lazyReader makes its bytes on first use, as a chunk store's compressed
// chunk does.
type lazyReader struct {
	data []byte
	r    *bytes.Reader
}

func (l *lazyReader) reader() *bytes.Reader {
	if l.r == nil {
		l.r = bytes.NewReader(l.data)
	}
	return l.r
}
func (l *lazyReader) Read(p []byte) (int, error) { return l.reader().Read(p) }
func (l *lazyReader) Len() int                   { return l.reader().Len() }
func (l *lazyReader) Size() int64                { return l.reader().Size() }
