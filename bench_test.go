package castore_test

import (
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/castore-go/castore"
)

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tenThousandFiles(b *testing.B) *castore.Directory {
	es := make([]castore.Entry, 10000)
	for i := range es {
		es[i] = castore.Entry{
			Name: castore.PathComponent(fmt.Sprintf("file-%06d.o", i)),
			Node: castore.FileNode(castore.Sum([]byte(fmt.Sprint(i))), uint64(i)*97, i%7 == 0),
		}
	}
	return mustDir(b, es...)
}

// BenchmarkDirectoryDigest10k measures Directory.Digest of a directory of
// 10,000 files (encoding plus BLAKE3):
//
//	go test . -run '^$' -bench 'Directory' -benchmem
func BenchmarkDirectoryDigest10k(b *testing.B) {
	d := tenThousandFiles(b)
	b.SetBytes(int64(len(d.Marshal())))
	b.ReportAllocs()
	for b.Loop() {
		d.Digest()
	}
}

// BenchmarkDirectoryDecode10k measures UnmarshalDirectory (decode, validate,
// canonical check) of the same directory.
func BenchmarkDirectoryDecode10k(b *testing.B) {
	enc := tenThousandFiles(b).Marshal()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := castore.UnmarshalDirectory(enc); err != nil {
			b.Fatal(err)
		}
	}
}
