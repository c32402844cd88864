package htmlreport

import (
	"io"
	"testing"
)

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func benchRender(b *testing.B, tags, bins int) {
	res := synthetic(tags, bins)
	var cw countWriter
	if err := Render(&cw, res, Options{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(cw.n)
	b.ReportAllocs()
	for b.Loop() {
		if err := Render(io.Discard, res, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tags*bins)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
}

// BenchmarkRenderSmall is a report the size of irp-leak's: 11 tags, 10 bins.
func BenchmarkRenderSmall(b *testing.B) { benchRender(b, 11, 10) }

// BenchmarkRenderLarge has 300 tags over the ledger's default maximum of
// 4096 bins.
func BenchmarkRenderLarge(b *testing.B) { benchRender(b, 300, 4096) }
