package etltest_test

import (
	"testing"

	"github.com/etwkit/etwkit/etw/etltest"
)

// discard is an io.Writer and io.WriterAt that drops everything.
type discard struct{}

func (discard) Write(p []byte) (int, error)            { return len(p), nil }
func (discard) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

func benchRecords(b *testing.B, n int) ([]etltest.Record, int64) {
	sc := etltest.Scale(1, n)
	var recs []etltest.Record
	var size int64
	for r := range sc.All() {
		if r.Lost > 0 {
			continue
		}
		recs = append(recs, r)
		size += int64(len(r.Data))
	}
	return recs, size
}

// BenchmarkWrite measures the writer alone: records of the scale scenario
// written into 64 KiB buffers on 4 processors. MB/s counts record bytes.
func BenchmarkWrite(b *testing.B) {
	recs, size := benchRecords(b, 100_000)
	for _, comp := range []bool{false, true} {
		name := "plain"
		if comp {
			name = "xpress"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size)
			var out int64
			for b.Loop() {
				w, err := etltest.NewWriter(discard{}, etltest.Options{Compress: comp})
				if err != nil {
					b.Fatal(err)
				}
				if err := w.WriteRecords(recs); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				out = w.BytesWritten()
			}
			b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(out)/float64(size), "file/record-bytes")
		})
	}
}

// BenchmarkScale measures generation and writing together, as etlgen
// -scenario scale does. MB/s counts file bytes.
func BenchmarkScale(b *testing.B) {
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		sc := etltest.Scale(1, 100_000)
		w, err := etltest.NewWriter(discard{}, sc.WriterOptions())
		if err != nil {
			b.Fatal(err)
		}
		if err := sc.WriteTo(w); err != nil {
			b.Fatal(err)
		}
		size = w.BytesWritten()
	}
	b.SetBytes(size)
}
