package filestore_test

import (
	"fmt"
	"testing"

	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/storetest"
)

// 1,000 puts and gets of up to 256 KiB objects with up to 16 in flight, as
// in objectstore's BenchmarkPutGet.
const (
	benchObjects  = 1000
	benchSize     = 256 << 10
	benchInflight = 16
)

// BenchmarkFilePutIfAbsent writes 2,000 new chunk-sized (64 KiB) objects
// with PutIfAbsent, 32 at a time, as an import does:
//
//	go test -run '^$' -bench FilePutIfAbsent -benchtime 3x ./objectstore/filestore/
func BenchmarkFilePutIfAbsent(b *testing.B) {
	s, err := filestore.New(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchPutIfAbsent(b, s, 2000, 64<<10, 32)
}

// BenchmarkFileSync compares the sync modes, reporting syncfs calls per put
// for group commit:
//
//	go test -run '^$' -bench FileSync -benchtime 3x ./objectstore/filestore/
func BenchmarkFileSync(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync filestore.SyncMode
	}{
		{"group", filestore.SyncGroup},
		{"each", filestore.SyncEach},
		{"none", filestore.SyncNone},
	} {
		for _, size := range []int{4 << 10, benchSize} {
			for _, inflight := range []int{1, benchInflight} {
				name := fmt.Sprintf("%s/size=%dKiB/inflight=%d", mode.name, size>>10, inflight)
				b.Run(name, func(b *testing.B) {
					s, err := filestore.New(b.TempDir(), &filestore.Options{Sync: mode.sync})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					storetest.BenchPutGet(b, s, benchObjects, size, inflight)
					if mode.sync == filestore.SyncGroup {
						b.ReportMetric(float64(filestore.SyncRounds(s))/float64(b.N*benchObjects), "syncs/put")
					}
				})
			}
		}
	}
}
