package httpfront

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/castore-go/castore"
)

// metrics are the gateway's own, beside otelhttp's request counts and
// durations (http.server.request.duration and the like).
type metrics struct {
	// abortedResponses counts responses broken off after their headers,
	// by reason: "corrupt" (a blob failed verification) or "error" (the
	// store failed mid-read).
	abortedResponses metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider) *metrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter("github.com/castore-go/castore/httpfront")
	aborted, _ := m.Int64Counter("castore_http_aborted_responses", metric.WithDescription("HTTP responses broken off after their headers, by reason: corrupt (a blob failed verification) or error"))
	return &metrics{abortedResponses: aborted}
}

var (
	attrCorrupt = metric.WithAttributes(attribute.String("reason", "corrupt"))
	attrError   = metric.WithAttributes(attribute.String("reason", "error"))
)

func (m *metrics) aborted(ctx context.Context, err error) {
	if errors.Is(err, castore.ErrCorrupt) {
		m.abortedResponses.Add(context.WithoutCancel(ctx), 1, attrCorrupt)
	} else {
		m.abortedResponses.Add(context.WithoutCancel(ctx), 1, attrError)
	}
}
