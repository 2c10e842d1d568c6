package gc

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// recordMetrics counts a run in the global OpenTelemetry meter:
// castore_gc_runs (by result and dry run), castore_gc_marked,
// castore_gc_swept_objects and _bytes (moved to trash),
// castore_gc_reclaimed_objects and _bytes (gone for good),
// castore_gc_restored_objects and castore_gc_duration_seconds.
func recordMetrics(ctx context.Context, st *Stats, err error) {
	m := otel.Meter("github.com/castore-go/castore/gc")
	result := "ok"
	if err != nil {
		result = "error"
	}
	attrs := metric.WithAttributes(attribute.String("result", result), attribute.Bool("dry_run", st.DryRun))
	add := func(name, desc string, n int64) {
		c, _ := m.Int64Counter(name, metric.WithDescription(desc))
		c.Add(ctx, n, attrs)
	}
	add("castore_gc_runs", "garbage collection runs, by result", 1)
	add("castore_gc_marked", "digests found live by garbage collection", st.Marked)
	add("castore_gc_swept_objects", "objects garbage collection moved to trash", st.Swept)
	add("castore_gc_swept_bytes", "bytes of the objects garbage collection moved to trash", st.SweptBytes)
	add("castore_gc_reclaimed_objects", "trash entries garbage collection deleted for good", st.Reclaimed)
	add("castore_gc_reclaimed_bytes", "bytes garbage collection deleted for good", st.ReclaimedBytes)
	add("castore_gc_restored_objects", "live objects garbage collection restored from trash", st.Restored)
	h, _ := m.Float64Histogram("castore_gc_duration_seconds", metric.WithDescription("garbage collection run time"), metric.WithUnit("s"))
	h.Record(ctx, st.Duration.Seconds(), attrs)
}
