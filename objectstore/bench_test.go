package objectstore_test

import (
	"fmt"
	"testing"

	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/storetest"
)

// The benchmark of issue 3: 1,000 puts and gets of 256 KiB objects with 16
// in flight. Run with
//
//	go test -run '^$' -bench 'PutGet' -benchtime 3x ./objectstore/
const (
	benchObjects  = 1000
	benchSize     = 256 << 10
	benchInflight = 16
)

// BenchmarkFilePutIfAbsent writes 2,000 new chunk-sized (64 KiB) objects
// with PutIfAbsent, 32 at a time, as an import does:
//
//	go test -run '^$' -bench FilePutIfAbsent -benchtime 3x ./objectstore/
func BenchmarkFilePutIfAbsent(b *testing.B) {
	s, err := objectstore.NewFile(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchPutIfAbsent(b, s, 2000, 64<<10, 32)
}

// BenchmarkPutGet/file is the file store with its default group commit.
// BenchmarkFileSync compares its sync modes, reporting syncfs calls per
// put for group commit.
func BenchmarkPutGet(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		storetest.BenchPutGet(b, objectstore.NewMemory(), benchObjects, benchSize, benchInflight)
	})
	b.Run("file", func(b *testing.B) {
		s, err := objectstore.NewFile(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		storetest.BenchPutGet(b, s, benchObjects, benchSize, benchInflight)
	})
	b.Run("minio", func(b *testing.B) {
		m := testenv.MinIO(b)
		m.SetEnv(b)
		s := openMinIO(b, m, "bench")
		defer s.Close()
		storetest.BenchPutGet(b, s, benchObjects, benchSize, benchInflight)
	})
}

func BenchmarkFileSync(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync objectstore.FileSync
	}{
		{"group", objectstore.SyncGroup},
		{"each", objectstore.SyncEach},
		{"none", objectstore.SyncNone},
	} {
		for _, size := range []int{4 << 10, benchSize} {
			for _, inflight := range []int{1, benchInflight} {
				name := fmt.Sprintf("%s/size=%dKiB/inflight=%d", mode.name, size>>10, inflight)
				b.Run(name, func(b *testing.B) {
					s, err := objectstore.NewFile(b.TempDir(), &objectstore.FileOptions{Sync: mode.sync})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					storetest.BenchPutGet(b, s, benchObjects, size, inflight)
					if mode.sync == objectstore.SyncGroup {
						b.ReportMetric(float64(objectstore.SyncRounds(s))/float64(b.N*benchObjects), "syncs/put")
					}
				})
			}
		}
	}
}
