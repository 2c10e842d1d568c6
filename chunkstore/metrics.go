package chunkstore

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics go to the global OpenTelemetry meter provider as it is when a
// store is made (`castore serve` exports them for Prometheus); until a
// program installs one they cost next to nothing.
type metrics struct {
	// chunkWrites counts chunks written, by outcome: "uploaded" (a new
	// object) or "deduplicated" (already stored: known, or the
	// put-if-absent found it).
	chunkWrites metric.Int64Counter
	// nearReads counts NearFar reads of chunks and unsplit blobs, by
	// result: "hit" (near had it) or "miss" (fetched from far).
	nearReads metric.Int64Counter
	// nearDamaged counts NearFar's near copies (chunks, unsplit blobs,
	// blob indexes) that failed verification and were read from far.
	nearDamaged metric.Int64Counter
	// prefetchBlobs and prefetchBytes count what NearFar.Prefetch brought
	// into near; prefetchUsed the prefetched blobs read since.
	prefetchBlobs, prefetchBytes, prefetchUsed metric.Int64Counter
}

func newMetrics() *metrics {
	m := otel.Meter("github.com/castore-go/castore/chunkstore")
	writes, _ := m.Int64Counter("castore_chunk_writes", metric.WithDescription("chunks written, by outcome: uploaded or deduplicated"))
	reads, _ := m.Int64Counter("castore_near_cache_blob_reads", metric.WithDescription("near/far blob cache reads of chunks and unsplit blobs, by result: hit or miss"))
	damaged, _ := m.Int64Counter("castore_near_cache_damaged", metric.WithDescription("near/far cache copies that failed verification, were read from far and replaced"))
	pBlobs, _ := m.Int64Counter("castore_prefetch_blobs", metric.WithDescription("blobs a near/far cache prefetched from far"))
	pBytes, _ := m.Int64Counter("castore_prefetch_bytes", metric.WithDescription("bytes of the blobs a near/far cache prefetched from far"))
	pUsed, _ := m.Int64Counter("castore_prefetch_used_blobs", metric.WithDescription("prefetched blobs read since"))
	return &metrics{chunkWrites: writes, nearReads: reads, nearDamaged: damaged, prefetchBlobs: pBlobs, prefetchBytes: pBytes, prefetchUsed: pUsed}
}

var (
	attrUploaded     = metric.WithAttributes(attribute.String("outcome", "uploaded"))
	attrDeduplicated = metric.WithAttributes(attribute.String("outcome", "deduplicated"))
	attrHit          = metric.WithAttributes(attribute.String("result", "hit"))
	attrMiss         = metric.WithAttributes(attribute.String("result", "miss"))
)

func (m *metrics) chunkWrite(ctx context.Context, uploaded bool) {
	if uploaded {
		m.chunkWrites.Add(ctx, 1, attrUploaded)
	} else {
		m.chunkWrites.Add(ctx, 1, attrDeduplicated)
	}
}

func (m *metrics) nearRead(ctx context.Context, hit bool) {
	if hit {
		m.nearReads.Add(ctx, 1, attrHit)
	} else {
		m.nearReads.Add(ctx, 1, attrMiss)
	}
}

func (m *metrics) prefetch(ctx context.Context, blobs, bytes int64) {
	m.prefetchBlobs.Add(ctx, blobs)
	m.prefetchBytes.Add(ctx, bytes)
}
