package chunkstore

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics go to the global OpenTelemetry meter provider (`castore serve`
// exports them for Prometheus); until a program installs one they cost
// next to nothing.
var (
	meter = otel.Meter("github.com/castore-go/castore/chunkstore")
	// chunkWrites counts chunks written, by outcome: "uploaded" (a new
	// object), "deduplicated" (already stored: known, or the put-if-absent
	// found it).
	chunkWrites, _ = meter.Int64Counter("castore_chunk_writes", metric.WithDescription("chunks written, by outcome: uploaded or deduplicated"))
	// nearReads counts NearFar chunk and blob reads, by result: "hit"
	// (served by near) or "miss" (fetched from far).
	nearReads, _ = meter.Int64Counter("castore_near_cache_blob_reads", metric.WithDescription("near/far blob cache reads of chunks and unsplit blobs, by result: hit or miss"))
)

var (
	attrUploaded     = metric.WithAttributes(attribute.String("outcome", "uploaded"))
	attrDeduplicated = metric.WithAttributes(attribute.String("outcome", "deduplicated"))
	attrHit          = metric.WithAttributes(attribute.String("result", "hit"))
	attrMiss         = metric.WithAttributes(attribute.String("result", "miss"))
)

func countChunkWrite(ctx context.Context, uploaded bool) {
	if uploaded {
		chunkWrites.Add(ctx, 1, attrUploaded)
	} else {
		chunkWrites.Add(ctx, 1, attrDeduplicated)
	}
}

func countNearRead(ctx context.Context, hit bool) {
	if hit {
		nearReads.Add(ctx, 1, attrHit)
	} else {
		nearReads.Add(ctx, 1, attrMiss)
	}
}
