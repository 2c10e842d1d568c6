package objectstore_test

import (
	"testing"

	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/s3store"
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

// BenchmarkPutGet/file is the file store with its default group commit;
// filestore's BenchmarkFileSync compares its sync modes.
func BenchmarkPutGet(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		storetest.BenchPutGet(b, memstore.New(), benchObjects, benchSize, benchInflight)
	})
	b.Run("file", func(b *testing.B) {
		s, err := filestore.New(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		storetest.BenchPutGet(b, s, benchObjects, benchSize, benchInflight)
	})
	b.Run("minio", func(b *testing.B) {
		m := testenv.MinIO(b)
		m.SetEnv(b)
		s, err := s3store.Open(b.Context(), m.URL("bench"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		storetest.BenchPutGet(b, s, benchObjects, benchSize, benchInflight)
	})
}
