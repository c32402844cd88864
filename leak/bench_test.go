package leak

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/leanframe"
)

// scaleTrace writes (once, into the temp folder) a trace of the scale
// scenario with the given number of records, as etlgen -scenario scale
// -stackwalk keys|full does, and returns its path and size.
func scaleTrace(b *testing.B, events int, shape string) (string, int64) {
	b.Helper()
	name := fmt.Sprintf("etwkit-bench-scale-%d.etl", events)
	if shape == "full" {
		name = fmt.Sprintf("etwkit-bench-scale-full-%d.etl", events)
	}
	path := filepath.Join(os.TempDir(), name)
	if st, err := os.Stat(path); err == nil {
		return path, st.Size()
	}
	tmp := path + ".tmp"
	sc := etltest.Scale(1, events)
	if shape == "full" {
		sc = etltest.ScaleFull(1, events)
	}
	if err := sc.WriteFile(tmp, sc.WriterOptions()); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(path)
	return path, st.Size()
}

// BenchmarkPipeline compares the reader alone (time order) with the whole
// poolleak pipeline (module maps, stack correlation, ledger, stack
// resolution) on the same generated trace, in the two stack shapes of
// real traces: "keys" (stack caching: StackKeyKernel/StackKeyUser
// references, etlgen's default) and "full" (every stack a full StackWalk
// record, xperf -stackwalk's default). One op is one pass over the file;
// MB/s counts file bytes. ETWKIT_BENCH_EVENTS sets the trace size in
// records (default 2,000,000; 22 million give a 1 GB trace of keys, 14
// million one of full stack walks).
func BenchmarkPipeline(b *testing.B) {
	events := benchEvents(b)
	for _, shape := range []string{"keys", "full"} {
		b.Run(shape, func(b *testing.B) { benchPipeline(b, events, shape) })
	}
}

// benchEvents returns the records of the benchmark traces: 2,000,000, or
// $ETWKIT_BENCH_EVENTS.
func benchEvents(b *testing.B) int {
	if s := os.Getenv("ETWKIT_BENCH_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 2_000_000
}

// benchPipeline runs the stages of BenchmarkPipeline on one trace.
func benchPipeline(b *testing.B, events int, shape string) {
	path, size := scaleTrace(b, events, shape)
	b.Run("reader-file-order", func(b *testing.B) { benchReader(b, path, size, etw.FileOrder) })
	b.Run("reader-time-order", func(b *testing.B) { benchReader(b, path, size, etw.TimeOrder) })
	b.Run("read-stage", func(b *testing.B) {
		// The reading goroutine of RunReader alone: read in time order
		// and fill batches, which are dropped.
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			r, err := etw.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			p, err := New(r.Clock(), r.PointerSize(), r.HeaderEvent().Timestamp, Options{})
			if err != nil {
				b.Fatal(err)
			}
			bt := newBatch()
			leanframe.SetLean(r, leanHooks) // as readBatches reads
			for ev, err := range r.All() {
				if err != nil {
					b.Fatal(err)
				}
				for !bt.add(p.reading(), ev) {
					bt.seal()
					bt.reset()
				}
			}
			r.Close()
		}
	})
	b.Run("feed-stage", func(b *testing.B) {
		// The pipeline goroutine of RunReader alone: the batches are read
		// beforehand (about 50 bytes of memory per record) and fed, then
		// the result is built.
		r, err := etw.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		p0, err := New(r.Clock(), r.PointerSize(), r.HeaderEvent().Timestamp, Options{})
		if err != nil {
			b.Fatal(err)
		}
		var batches []*batch
		bt := newBatch()
		for ev, err := range r.All() {
			if err != nil {
				b.Fatal(err)
			}
			for !bt.add(p0.reading(), ev) {
				bt.seal()
				batches = append(batches, bt)
				bt = newBatch()
			}
		}
		bt.seal()
		batches = append(batches, bt)
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			p, err := New(r.Clock(), r.PointerSize(), r.HeaderEvent().Timestamp, Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, bt := range batches {
				p.feed(bt)
			}
			p.Finish()
		}
	})
	b.Run("poolleak-pipeline", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		var n int64
		for b.Loop() {
			res, err := Run(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			n += int64(res.Report.Trace.Events)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	})
}

// benchReader reads the trace at path in the given order, once per op.
func benchReader(b *testing.B, path string, size int64, order etw.Order) {
	b.SetBytes(size)
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		r, err := etw.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.SetOrder(order); err != nil {
			b.Fatal(err)
		}
		for _, err := range r.All() {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		r.Close()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
