package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
)

// BenchPutGet puts n objects of size bytes with inflight puts at a time,
// then gets them all back the same way, once per benchmark iteration. Keys
// are laid out like chunks (chunks/b3/<4 hex>/<64 hex>). It reports put
// and get throughput as "put-MB/s" and "get-MB/s".
func BenchPutGet(b *testing.B, s objectstore.Store, n, size, inflight int) {
	ctx := b.Context()
	data := make([]byte, size)
	rand.Read(data)
	var putTime, getTime time.Duration
	iters := 0
	for b.Loop() {
		keys := chunkKeys(n)
		start := time.Now()
		parallel(b, keys, inflight, func(key string) error {
			return s.Put(ctx, key, bytes.NewReader(data))
		})
		putTime += time.Since(start)
		start = time.Now()
		parallel(b, keys, inflight, func(key string) error {
			rc, err := s.Get(ctx, key)
			if err != nil {
				return err
			}
			defer rc.Close()
			got, err := io.Copy(io.Discard, rc)
			if err == nil && got != int64(size) {
				err = fmt.Errorf("get %q: %d bytes, want %d", key, got, size)
			}
			return err
		})
		getTime += time.Since(start)
		iters++
	}
	mb := float64(iters*n*size) / 1e6
	b.ReportMetric(mb/putTime.Seconds(), "put-MB/s")
	b.ReportMetric(mb/getTime.Seconds(), "get-MB/s")
}

// BenchPutIfAbsent puts n new objects of size bytes with PutIfAbsent,
// inflight at a time, as a chunk store writes chunks, and reports
// "puts/s" and "put-MB/s".
func BenchPutIfAbsent(b *testing.B, s objectstore.Store, n, size, inflight int) {
	ctx := b.Context()
	data := make([]byte, size)
	rand.Read(data)
	var putTime, putCPU time.Duration
	iters := 0
	for b.Loop() {
		keys := chunkKeys(n)
		cpu0 := testenv.CPUTime()
		start := time.Now()
		parallel(b, keys, inflight, func(key string) error {
			created, err := s.PutIfAbsent(ctx, key, bytes.NewReader(data))
			if err == nil && !created {
				err = fmt.Errorf("put-if-absent %q: a new key was not created", key)
			}
			return err
		})
		putTime += time.Since(start)
		putCPU += testenv.CPUTime() - cpu0
		iters++
	}
	b.ReportMetric(float64(iters*n)/putTime.Seconds(), "puts/s")
	b.ReportMetric(float64(putCPU.Microseconds())/float64(iters*n), "cpu-us/put")
	b.ReportMetric(float64(iters*n*size)/1e6/putTime.Seconds(), "put-MB/s")
}

// chunkKeys returns n random keys laid out like chunks.
func chunkKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		var d [32]byte
		rand.Read(d[:])
		h := hex.EncodeToString(d[:])
		keys[i] = fmt.Sprintf("chunks/b3/%s/%s", h[:4], h)
	}
	return keys
}

func parallel(b *testing.B, keys []string, inflight int, fn func(string) error) {
	ch := make(chan string)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range inflight {
		wg.Go(func() {
			for k := range ch {
				if err := fn(k); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}
