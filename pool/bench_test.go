package pool

import (
	"flag"
	"runtime"
	"testing"
)

var largeEvents = flag.Int("pool.large-events", 10_000_000, "events fed by BenchmarkLedgerLarge")

// workload generates a synthetic PoolTrace stream: the first `open` events
// allocate blocks 0..open-1; after that events alternate between allocating
// the next block and freeing the oldest, so exactly `open` blocks stay
// outstanding. Tags, stacks and pids cycle over small sets (50 tags, 200
// stacks, 8 pids by default), 100 ticks (10 µs) apart.
type workload struct {
	open   uint64
	i      uint64
	tags   uint32
	pids   uint32
	stacks []StackID
	// Next tag, pid and stack positions of the allocation and free streams:
	// counters that wrap, so the generator spends no divisions.
	aTag, aPid, aStack, fTag uint32
}

func newWorkload(l *Ledger, open uint64) *workload {
	return newWorkloadShape(l, open, 50, 200, 8)
}

func newWorkloadShape(l *Ledger, open uint64, tags, stacks, pids int) *workload {
	w := &workload{open: open, tags: uint32(tags), pids: uint32(pids)}
	for s := range stacks {
		frames := []uint64{0xfffff80000010000 + uint64(s)*0x40, 0xfffff80000200000, 0x7ff700001000 + uint64(s%7)*0x100, 0x77001000}
		w.stacks = append(w.stacks, l.InternStack(uint32(1000+s%pids), frames))
	}
	return w
}

// wrap returns c+1, or 0 when that reaches n.
func wrap(c, n uint32) uint32 {
	if c+1 == n {
		return 0
	}
	return c + 1
}

func (w *workload) next(op *Op) {
	i := w.i
	w.i++
	*op = Op{Time: int64(i) * 100}
	j := i // block to allocate
	if i >= w.open {
		j = w.open + (i-w.open)/2
		if (i-w.open)%2 == 1 {
			k := (i - w.open) / 2
			op.Kind = Free
			op.Entry = 0xffff800000000000 + k*16
			op.Tag = Tag(0x41414141 + w.fTag)
			op.Type = uint32(k % 2)
			w.fTag = wrap(w.fTag, w.tags)
			return
		}
	}
	op.Kind = Alloc
	op.Entry = 0xffff800000000000 + j*16
	op.Tag = Tag(0x41414141 + w.aTag)
	op.Type = uint32(j % 2)
	op.Size = 64 + j%1024
	op.PID = 1000 + w.aPid
	op.Stack = w.stacks[w.aStack]
	w.aTag = wrap(w.aTag, w.tags)
	w.aPid = wrap(w.aPid, w.pids)
	w.aStack = wrap(w.aStack, uint32(len(w.stacks)))
}

// BenchmarkLedger measures Apply in steady state with 100,000 open blocks.
// One op is one event (alloc or free).
func BenchmarkLedger(b *testing.B) {
	l := NewLedger(Options{})
	benchSteady(b, l, newWorkload(l, 100_000))
}

// BenchmarkLedgerSmall measures Apply in steady state in the shape of the
// poolleak pipeline's generated trace: 30,000 open blocks, 11 tags, 40
// stacks, 8 pids.
func BenchmarkLedgerSmall(b *testing.B) {
	l := NewLedger(Options{})
	benchSteady(b, l, newWorkloadShape(l, 30_000, 11, 40, 8))
}

// benchSteady warms l up with 3*open events of w, then times one event per
// iteration.
func benchSteady(b *testing.B, l *Ledger, w *workload) {
	var op Op
	for range 3 * w.open {
		w.next(&op)
		l.Apply(&op)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		w.next(&op)
		l.Apply(&op)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	}
}

// BenchmarkLedgerOpenBlocks measures heap bytes per open block: one op
// opens 1,000,000 blocks in a fresh ledger.
func BenchmarkLedgerOpenBlocks(b *testing.B) {
	const n = 1_000_000
	var per float64
	for b.Loop() {
		before := heapAlloc()
		l := NewLedger(Options{})
		w := newWorkload(l, n)
		var op Op
		for range n {
			w.next(&op)
			l.Apply(&op)
		}
		after := heapAlloc()
		if l.OpenBlocks() != n {
			b.Fatalf("open blocks %d", l.OpenBlocks())
		}
		per = float64(after-before) / n
		runtime.KeepAlive(l)
	}
	b.ReportMetric(per, "bytes/block")
}

// BenchmarkLedgerLarge feeds -pool.large-events events (10 million by
// default) with 1,000,000 blocks outstanding at the end and reports the
// ledger's heap. One op is the whole pass. Skipped with -short.
func BenchmarkLedgerLarge(b *testing.B) {
	if testing.Short() {
		b.Skip("large benchmark skipped in -short mode")
	}
	const open = 1_000_000
	var heapMB, eps, cpuNs float64
	for b.Loop() {
		before := heapAlloc()
		cpu0 := cpuTime()
		l := NewLedger(Options{})
		w := newWorkload(l, open)
		var op Op
		for range *largeEvents {
			w.next(&op)
			l.Apply(&op)
		}
		el := b.Elapsed().Seconds()
		cpuNs = float64((cpuTime() - cpu0).Nanoseconds()) / float64(*largeEvents)
		r := l.Finish()
		after := heapAlloc()
		heapMB = float64(after-before) / (1 << 20)
		eps = float64(*largeEvents) / el
		if r.Totals.OutstandingCount != open {
			b.Fatalf("outstanding %d", r.Totals.OutstandingCount)
		}
		runtime.KeepAlive(l)
	}
	b.ReportMetric(heapMB, "heap-MB")
	b.ReportMetric(eps, "events/s")
	if cpuNs > 0 {
		b.ReportMetric(cpuNs, "cpu-ns/event")
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
