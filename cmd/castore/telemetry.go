package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
)

// telemetry is the process's OpenTelemetry setup: metrics always (for
// Prometheus), traces to OTLP when the standard OTEL_* variables ask for
// them.
type telemetry struct {
	metrics  http.Handler
	mp       *sdkmetric.MeterProvider
	tp       trace.TracerProvider
	shutdown []func(context.Context) error
}

// tracesWanted follows the OpenTelemetry conventions: an OTLP endpoint is
// set, and OTEL_TRACES_EXPORTER is not "none".
func tracesWanted(env *environment) bool {
	if env.getenv("OTEL_TRACES_EXPORTER") == "none" || env.getenv("OTEL_SDK_DISABLED") == "true" {
		return false
	}
	return env.getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env.getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

func setupTelemetry(ctx context.Context, env *environment) (*telemetry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	res := resource.Default()
	t := &telemetry{
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		mp:      sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res)),
		tp:      noop.NewTracerProvider(),
	}
	t.shutdown = append(t.shutdown, t.mp.Shutdown)
	otel.SetMeterProvider(t.mp)
	if tracesWanted(env) {
		te, err := otlptracegrpc.New(ctx) // endpoint, headers, TLS from OTEL_* variables
		if err != nil {
			return nil, err
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(te), sdktrace.WithResource(res))
		t.tp = tp
		t.shutdown = append(t.shutdown, tp.Shutdown)
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	}
	return t, nil
}

// serverOption instruments every RPC: a span each, and the rpc.server.*
// metrics (counts, latencies, message sizes).
func (t *telemetry) serverOption() grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithMeterProvider(t.mp), otelgrpc.WithTracerProvider(t.tp)))
}

// serveMetrics serves /metrics on addr until ctx ends.
func (t *telemetry) serveMetrics(ctx context.Context, addr string) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", t.metrics)
	l, err := listenOn(addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

func (t *telemetry) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
