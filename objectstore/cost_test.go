package objectstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/memstore"
)

// noTelemetry installs no-op providers for the test, as a program that
// exports nothing has.
func noTelemetry(t *testing.T) {
	mp, tp := otel.GetMeterProvider(), otel.GetTracerProvider()
	otel.SetMeterProvider(metricnoop.NewMeterProvider())
	otel.SetTracerProvider(tracenoop.NewTracerProvider())
	t.Cleanup(func() { otel.SetMeterProvider(mp); otel.SetTracerProvider(tp) })
}

// The decorators cost a store that answers from memory (a pack store's
// Head, for each file of a re-import) next to nothing: the attributes of
// a call's metrics are made once per op and result, a span's only when it
// records, and a timeout's cause once per store. (A Head through both
// allocated 20 times.)
func TestDecoratorAllocations(t *testing.T) {
	noTelemetry(t)
	m := memstore.New()
	ctx := context.Background()
	if err := m.Put(ctx, "k", bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		s    objectstore.Store
		max  float64
	}{
		{"instrumented", objectstore.Instrument(m, "memory"), 2},                                // was 12
		{"deadline", objectstore.WithDeadline(m, time.Minute), 4},                               // was 8
		{"indexed deadline", objectstore.WithDeadline(indexedHeads{m}, time.Minute), 0},         // was 8
		{"both", objectstore.Instrument(objectstore.WithDeadline(m, time.Minute), "memory"), 6}, // was 20
	} {
		n := testing.AllocsPerRun(100, func() {
			if _, err := c.s.Head(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		})
		if n > c.max {
			t.Errorf("a Head through %s allocates %v times, want at most %v", c.name, n, c.max)
		}
	}
}

// indexedHeads says its store answers Head from memory, and records
// whether a Head came with a deadline.
type indexedHeads struct{ *memstore.Store }

func (indexedHeads) HeadsIndexed() bool { return true }

type headDeadline struct {
	objectstore.Store
	bounded *bool
}

func (h headDeadline) Head(ctx context.Context, key string) (objectstore.ObjectInfo, error) {
	_, *h.bounded = ctx.Deadline()
	return h.Store.Head(ctx, key)
}

type indexedHeadDeadline struct{ headDeadline }

func (indexedHeadDeadline) HeadsIndexed() bool { return true }

// A Head of a store that answers it from memory is not bounded (it
// cannot stall, and a timer for each costs); one of any other store is;
// the capability passes through every decorator.
func TestDeadlineHeadsIndexed(t *testing.T) {
	m := memstore.New()
	if objectstore.HeadsIndexed(m) || objectstore.HeadsIndexed(objectstore.Instrument(objectstore.WithDeadline(m, time.Minute), "memory")) {
		t.Error("a memory store says it answers Head from an index")
	}
	if !objectstore.HeadsIndexed(objectstore.Instrument(objectstore.WithDeadline(indexedHeads{m}, time.Minute), "memory")) {
		t.Error("the decorators hide that a store answers Head from an index")
	}
	var bounded bool
	h := headDeadline{Store: m, bounded: &bounded}
	objectstore.WithDeadline(h, time.Minute).Head(t.Context(), "k")
	if !bounded {
		t.Error("a Head of a store that does not answer from memory has no deadline")
	}
	objectstore.WithDeadline(indexedHeadDeadline{h}, time.Minute).Head(t.Context(), "k")
	if bounded {
		t.Error("a Head of a store that answers from memory has a deadline")
	}
}
