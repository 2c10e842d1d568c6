package bigtable_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/castore-go/castore/dirstore/dirtest"
)

// Every Bigtable request is a span named after its method, with the table.
func TestSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	f := newFixture(t)
	p := f.params(t)
	s := f.open(t, p, nil)
	ctx := t.Context()
	tree := chain(t, 3)
	root, err := dirtest.Put(ctx, s, tree...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(ctx, s, root); err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, sp := range rec.Ended() {
		if !strings.HasPrefix(sp.Name(), "bigtable.") {
			continue // the client library's own spans
		}
		names[sp.Name()]++
		table := ""
		for _, a := range sp.Attributes() {
			if a.Key == "bigtable.table" {
				table = a.Value.AsString()
			}
		}
		if table != p.TableName {
			t.Errorf("span %s names table %q, want %q", sp.Name(), table, p.TableName)
		}
	}
	for _, want := range []string{"bigtable.ReadRows", "bigtable.MutateRows", "bigtable.CheckAndMutateRow"} {
		if names[want] == 0 {
			t.Errorf("no %s span; got %v", want, names)
		}
	}
}
