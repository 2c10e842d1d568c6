package grpcapi_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/castorepb/snixpb"
	"github.com/castore-go/castore/grpcapi"
)

// BenchmarkPutBlobVerify is what PutBlob's verification costs: a 256 MiB
// blob of real data, its chunks in the store `castore serve` uses by
// default (chunked on a file object store, in the page cache), recorded
// with PutBlob, which reads every chunk compressed, decompresses it, and
// hashes them in order (the blob's digest checks them all). Beside it, in the same run: writing the blob
// (Create, what a legacy Put costs the server), reading it (Open), and
// BLAKE3 of the bytes in memory. Reported per verification: ms and MB/s,
// and its ratio to the write.
//
//	go test -run '^$' -bench PutBlobVerify -benchtime 3x ./grpcapi/
func BenchmarkPutBlobVerify(b *testing.B) {
	const size = 256 << 20
	ctx := context.Background()
	path := realData(b, size)
	cs, _ := embeddedBlobs(b)
	d, put, err := putFile(ctx, cs, path)
	if err != nil {
		b.Fatal(err)
	}
	chunks, err := cs.Chunks(ctx, d)
	if err != nil || len(chunks) < 2 {
		b.Fatalf("chunks: %d, %v", len(chunks), err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	hash, _ := measure(func() error { castore.Sum(data); return nil })
	data = nil
	read, err := readBlob(ctx, cs, d, size)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpcapi.NewBlobStoreServer(cs)
	req := &snixpb.PutBlobRequest{Digest: d[:], BlobMeta: snixpb.FromChunks(chunks)}
	var verify cost
	n := 0
	for b.Loop() {
		c, err := measure(func() error { _, err := srv.PutBlob(ctx, req); return err })
		if err != nil {
			b.Fatal(err)
		}
		verify.add(c)
		n++
	}
	per := verify.wall / time.Duration(n)
	b.ReportMetric(float64(per.Milliseconds()), "verify-ms")
	b.ReportMetric(float64(size)/per.Seconds()/1e6, "verify-MB/s")
	b.ReportMetric(float64((verify.cpu / time.Duration(n)).Milliseconds()), "verify-cpu-ms")
	b.ReportMetric(float64(put.wall.Milliseconds()), "write-ms")
	b.ReportMetric(float64(read.wall.Milliseconds()), "read-ms")
	b.ReportMetric(float64(hash.wall.Milliseconds()), "blake3-ms")
	b.ReportMetric(per.Seconds()/put.wall.Seconds(), "verify/write")
	b.Logf("%d chunks; verify %v (cpu %v), write %v, read %v, BLAKE3 in memory %v", len(chunks), per, verify.cpu/time.Duration(n), put.wall, read.wall, hash.wall)
}
