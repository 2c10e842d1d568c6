package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// gcMetrics is what a gc run measures of itself: the run's own metrics
// (package gc's castore_gc_*) and the object store calls, by op, counted
// as the composition's instrumented stores count them. A batch job is not
// scraped, so the metrics are pushed to a Prometheus Pushgateway if one
// is named (--metrics-push), and the calls printed.
type gcMetrics struct {
	reader *sdkmetric.ManualReader
	reg    *prometheus.Registry
	prev   func()
}

// startGCMetrics installs a meter provider for the run; stop restores the
// one before.
func startGCMetrics() (*gcMetrics, error) {
	m := &gcMetrics{reader: sdkmetric.NewManualReader(), reg: prometheus.NewRegistry()}
	exp, err := otelprom.New(otelprom.WithRegisterer(m.reg))
	if err != nil {
		return nil, err
	}
	prev := otel.GetMeterProvider()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(m.reader), sdkmetric.WithReader(exp))
	otel.SetMeterProvider(mp)
	m.prev = func() { otel.SetMeterProvider(prev); mp.Shutdown(context.Background()) }
	return m, nil
}

func (m *gcMetrics) stop() { m.prev() }

// calls returns the object store calls so far by op ("get", "put", ...).
func (m *gcMetrics) calls(ctx context.Context) map[string]int64 {
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(ctx, &rm); err != nil {
		return nil
	}
	calls := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			sum, ok := mt.Data.(metricdata.Sum[int64])
			if !ok || mt.Name != "castore_objectstore_calls" {
				continue
			}
			for _, dp := range sum.DataPoints {
				op, _ := dp.Attributes.Value("op")
				calls[op.AsString()] += dp.Value
			}
		}
	}
	return calls
}

// push sends the run's metrics to a Pushgateway under job castore_gc.
func (m *gcMetrics) push(url string) error {
	if err := push.New(url, "castore_gc").Gatherer(m.reg).Push(); err != nil {
		return fmt.Errorf("push metrics to %s: %w", url, err)
	}
	return nil
}

// formatCalls is "copy 3, delete 3, get 10, ..." in op order.
func formatCalls(calls map[string]int64) string {
	ops := make([]string, 0, len(calls))
	for op := range calls {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s %d", op, calls[op])
	}
	return strings.Join(parts, ", ")
}
