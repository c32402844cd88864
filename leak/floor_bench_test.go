package leak

import (
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/census"
	"github.com/etwkit/etwkit/pool"
)

// BenchmarkFloor measures, on the traces of BenchmarkPipeline, the two
// parts of the work that no design of the pipeline can leave out, each on
// its own: reading and counting every record as `etlstat -json` does
// (census), and applying the trace's pool events to a ledger (ledger,
// with the events decoded beforehand and no stacks, which only makes the
// ledger's work smaller). Set against BenchmarkPipeline's stages, they
// show how much of the pipeline's cost is that work and how much is the
// rest: merging, correlating stacks, handing records between goroutines
// (see BENCHMARKS.md, issue 19).
func BenchmarkFloor(b *testing.B) {
	for _, shape := range []string{"keys", "full"} {
		b.Run(shape, func(b *testing.B) {
			path, size := scaleTrace(b, benchEvents(b), shape)
			b.Run("census", func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					r, err := etw.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := census.FromReader(r, path); err != nil {
						b.Fatal(err)
					}
					r.Close()
				}
			})
			b.Run("ledger", func(b *testing.B) {
				r, err := etw.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				var ops []pool.Op
				for ev, err := range r.All() {
					if err != nil {
						b.Fatal(err)
					}
					if !isPool(ev) {
						continue
					}
					pe, err := etw.DecodePool(ev)
					if err != nil {
						b.Fatal(err)
					}
					ops = append(ops, PoolOp(ev, &pe))
				}
				freq := r.Clock().Frequency
				start := r.HeaderEvent().Timestamp
				b.ReportAllocs()
				for b.Loop() {
					l := pool.NewLedger(pool.Options{Frequency: freq, Start: start, PointerSize: r.PointerSize()})
					for i := range ops {
						l.Apply(&ops[i])
					}
					l.Finish()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ops)), "ns/pool-event")
			})
		})
	}
}
