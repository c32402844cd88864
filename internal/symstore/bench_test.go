package symstore

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
)

// BenchmarkFindCached measures one lookup of a file already in the
// downstream cache of a srv*cache*URL path (one op = one FindPDB call; the
// server is never asked).
func BenchmarkFindCached(b *testing.B) {
	cache := b.TempDir()
	writeFile(b, filepath.Join(cache, "foo.pdb", testPDB.Dir(), "foo.pdb"), "cached")
	p, err := Parse(fmt.Sprintf("srv*%s*https://symbols.invalid/download/symbols", cache))
	if err != nil {
		b.Fatal(err)
	}
	s := New(p, &Options{Client: clientFunc(func(r *http.Request) { b.Fatalf("request %s", r.URL) })})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.FindPDB(ctx, testPDB); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/lookup")
}

// BenchmarkFindMissLocal measures a miss along a path of two local
// folders (one op = one FindPDB call returning ErrNotFound).
func BenchmarkFindMissLocal(b *testing.B) {
	p, err := Parse(b.TempDir() + ";srv*" + b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s := New(p, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.FindPDB(ctx, testPDB); err == nil {
			b.Fatal("found")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/lookup")
}
