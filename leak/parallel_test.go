package leak

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/require"
)

// runSerial is RunReader without the reading goroutine: every event goes
// through Pipeline.Event.
func runSerial(t *testing.T, path string, opts Options) *Result {
	t.Helper()
	r, err := etw.Open(path)
	require.NoError(t, err)
	defer r.Close()
	p, err := New(r.Clock(), r.PointerSize(), r.HeaderEvent().Timestamp, opts)
	require.NoError(t, err)
	defer p.Close()
	var readErrs []error
	for ev, err := range r.All() {
		if err != nil {
			var fe *etw.FormatError
			require.True(t, errors.As(err, &fe), "%v", err)
			readErrs = append(readErrs, err)
			continue
		}
		p.Event(ev)
	}
	res := p.Finish()
	res.ReadErrors = readErrs
	return res
}

// requireSameResult compares what RunReader and runSerial found.
func requireSameResult(t *testing.T, path string, opts Options) {
	t.Helper()
	want := runSerial(t, path, opts)
	got, err := Run(path, opts)
	require.NoError(t, err)
	require.Equal(t, want.Report.Trace.Events, got.Report.Trace.Events, "events")
	// The file-level fields RunReader adds after Finish are left out.
	got.Report.Trace.EventsLost, got.Report.Trace.BuffersLost = want.Report.Trace.EventsLost, want.Report.Trace.BuffersLost
	if want.Report.Trace.PoolEvents == 0 {
		got.Report.Trace.Start, got.Report.Trace.End, got.Report.Trace.DurationS = want.Report.Trace.Start, want.Report.Trace.End, want.Report.Trace.DurationS
	}
	require.Equal(t, want.Report, got.Report)
	require.Equal(t, want.Window, got.Window)
	require.Equal(t, want.Stacks, got.Stacks)
	require.Equal(t, want.StackStats, got.StackStats)
	require.Equal(t, want.Samples, got.Samples)
	require.Equal(t, len(want.ReadErrors), len(got.ReadErrors))
	for i := range want.ReadErrors {
		require.Equal(t, want.ReadErrors[i].Error(), got.ReadErrors[i].Error())
	}
}

// TestRunReaderMatchesSerial checks that the two-goroutine RunReader, which
// decodes pool and stack-key records in the reading goroutine and leaves
// out events the pipeline has no use for, finds what feeding every event
// to Pipeline.Event finds: on the fixture (with options), a generated
// trace larger than many batches, a damaged copy, and every corpus trace.
func TestRunReaderMatchesSerial(t *testing.T) {
	t.Run("irp-leak", func(t *testing.T) {
		requireSameResult(t, irpLeak, Options{})
		requireSameResult(t, irpLeak, Options{HasWindow: true, Window: [2]float64{2, 6}, Tag: "Irp", FoldWOW64: true})
		requireSameResult(t, irpLeak, Options{HasPID: true, PID: 0x1d2c})
	})
	dir := t.TempDir()
	t.Run("scale", func(t *testing.T) {
		path := writeScenario(t, dir, etltest.Scale(3, 200_000).Options())
		requireSameResult(t, path, Options{})

		// Most pool events share a record with their kernel stack key.
		kinds := batchKinds(t, path)
		require.Greater(t, kinds[recPoolKey], 10*kinds[recPool])
	})
	t.Run("scale-perfinfo", func(t *testing.T) {
		// PoolTrace records with PERFINFO headers (no process, no thread),
		// in both stack shapes: the stack record that follows a pool event
		// joins it all the same (recPoolKeyNT, recPoolStackNT).
		for _, keys := range []bool{true, false} {
			path := writeScenario(t, dir, etltest.ScenarioOptions{Seed: 6, Events: 200_000, StackKeys: keys, Unbounded: true,
				Leak: true, LeakCount: 1 << 30, PoolHeader: etltest.HeaderPerfInfo})
			requireSameResult(t, path, Options{})
			requireSameResult(t, path, Options{HasWindow: true, Window: [2]float64{0.2, 0.7}, Tag: "Irp"})
			kinds := batchKinds(t, path)
			if keys {
				require.Greater(t, kinds[recPoolKeyNT], 10*kinds[recPool])
			} else {
				require.Greater(t, kinds[recPoolStackNT], 10*kinds[recPool])
			}
		}
	})
	t.Run("scale-full", func(t *testing.T) {
		// Full stack walks, in both pointer sizes; the stack records
		// cross as frame list numbers.
		for _, ptr := range []int{8, 4} {
			path := writeScenario(t, dir, etltest.ScenarioOptions{Seed: 4, Events: 200_000, Unbounded: true, Leak: true,
				LeakCount: 1 << 30, PointerSize: ptr})
			requireSameResult(t, path, Options{})
			requireSameResult(t, path, Options{HasWindow: true, Window: [2]float64{0.2, 0.7}, FoldWOW64: true})
			// Stack records cross as numbers; a few carry new frames.
			kinds := batchKinds(t, path)
			require.Greater(t, kinds[recStack]+kinds[recPoolStack], 1000*kinds[recStackNew])
			require.NotZero(t, kinds[recStackNew])
			// Most pool events share a record with their kernel stack.
			require.Greater(t, kinds[recPoolStack], 100*kinds[recPool])
		}
	})
	t.Run("damaged-full", func(t *testing.T) {
		sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: 5, Events: 20_000, Leak: true, Damage: true})
		data, err := sc.Bytes(sc.WriterOptions())
		require.NoError(t, err)
		for i := 300_000; i < 300_300; i++ {
			data[i] ^= 0xA5
		}
		path := filepath.Join(dir, "damaged-full.etl")
		require.NoError(t, os.WriteFile(path, data[:len(data)-20_000], 0o644))
		requireSameResult(t, path, Options{})
		res, err := Run(path, Options{})
		require.NoError(t, err)
		require.NotEmpty(t, res.ReadErrors, "the damage is reported")
	})
	t.Run("damaged", func(t *testing.T) {
		data, err := os.ReadFile(irpLeak)
		require.NoError(t, err)
		for i := 200_000; i < 200_400; i++ {
			data[i] ^= 0x5A
		}
		path := filepath.Join(dir, "damaged.etl")
		require.NoError(t, os.WriteFile(path, data[:len(data)-10_000], 0o644))
		requireSameResult(t, path, Options{})
		res, err := Run(path, Options{})
		require.NoError(t, err)
		require.NotEmpty(t, res.ReadErrors, "the damage is reported")
	})
	t.Run("corpus", func(t *testing.T) {
		for _, tr := range corpus.Traces(t) {
			t.Run(tr.Name, func(t *testing.T) {
				requireSameResult(t, tr.Path, Options{})
			})
		}
	})
}

// batchKinds counts the records of the batches that the trace at path
// fills, by kind.
func batchKinds(t *testing.T, path string) map[uint8]int {
	t.Helper()
	r, err := etw.Open(path)
	require.NoError(t, err)
	defer r.Close()
	p, err := New(r.Clock(), r.PointerSize(), r.HeaderEvent().Timestamp, Options{})
	require.NoError(t, err)
	kinds := map[uint8]int{}
	bt := newBatch()
	count := func() {
		bt.seal()
		for _, rc := range bt.recs {
			kinds[rc.kind]++
		}
		bt.reset()
	}
	for ev, err := range r.All() {
		require.NoError(t, err)
		for !bt.add(p.reading(), ev) {
			count()
		}
	}
	count()
	t.Logf("records by kind: %v", kinds)
	return kinds
}

// TestFastRecordAgrees checks fastRecord against the etw decoders: for
// random pool and stack-key records in every kernel header type and
// random payload lengths, whenever fastRecord takes a record,
// decodedRecord takes it too and writes the same record.
func TestFastRecordAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	headers := []etw.HeaderType{etw.HeaderSystem32, etw.HeaderSystem64, etw.HeaderCompact32, etw.HeaderCompact64,
		etw.HeaderPerfInfo32, etw.HeaderPerfInfo64}
	hooks := []etw.HookID{etw.HookPoolAlloc, etw.HookPoolSessionAlloc, etw.HookPoolFree, etw.HookPoolSessionFree, 0x0E28,
		etw.HookStackKeyKernel, etw.HookStackKeyUser, etw.HookStackWalk}
	fast, dec := newBatch(), newBatch()
	taken := 0
	for range 200_000 {
		h := hooks[rng.IntN(len(hooks))]
		ev := &etw.Event{Header: headers[rng.IntN(len(headers))], Hook: h, Opcode: uint8(h), Version: 2,
			Timestamp: rng.Int64(), PID: etw.PID(rng.Uint32()), TID: etw.TID(rng.Uint32()), Processor: uint16(rng.IntN(64))}
		ev.Provider = etw.PoolGUID
		if h>>8 == 0x18 {
			ev.Provider = etw.StackWalkGUID
		}
		if rng.IntN(4) == 0 {
			ev.TID = etw.NoTID
		}
		ev.Payload = make([]byte, rng.IntN(40))
		for i := range ev.Payload {
			ev.Payload[i] = byte(rng.Uint32())
		}
		fast.reset()
		dec.reset()
		if !fastRecord(ev, fast) {
			continue
		}
		taken++
		require.True(t, decodedRecord(ev, dec), "decoders refuse %v hook %v len %d", ev.Header, ev.Hook, len(ev.Payload))
		fast.seal()
		dec.seal()
		require.Equal(t, dec.recs[0], fast.recs[0], "%v hook %v len %d", ev.Header, ev.Hook, len(ev.Payload))
	}
	require.Greater(t, taken, 10_000)
}

// failingReaderAt fails every read at or past offset after.
type failingReaderAt struct {
	data  []byte
	after int64
}

var errDisk = errors.New("disk on fire")

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.after {
		return 0, errDisk
	}
	return copy(p, f.data[off:]), nil
}

// TestRunReaderReadError checks that an I/O error in the middle of a trace
// ends RunReader with that error, and that the reading goroutine has ended
// by then (run with -race: the test reads the trace again through the
// same data right after).
func TestRunReaderReadError(t *testing.T) {
	data, err := os.ReadFile(irpLeak)
	require.NoError(t, err)
	for _, after := range []int64{200_000, int64(len(data)) - 70_000} {
		r, err := etw.NewReader(&failingReaderAt{data: data, after: after}, int64(len(data)))
		require.NoError(t, err)
		_, err = RunReader(r, Options{})
		require.ErrorIs(t, err, errDisk)
		require.NoError(t, r.Close())
	}
}

// TestNextBatchSize: batches of batchStart records until one fills with
// records, then batchLen, and smaller again near the end of the trace.
func TestNextBatchSize(t *testing.T) {
	require.Equal(t, batchLen, nextBatchSize(true, 0, 0, 0), "nothing known yet")
	require.Equal(t, batchStart, nextBatchSize(false, 100_000, 10, 1000), "the last batch ended on copied events")
	require.Equal(t, batchLen, nextBatchSize(true, 100_000, 10, 1000), "far from the end")
	// 100,000 records from 100 of 110 buffers: 10,000 to come, half of
	// them at most in the next batch (between batchStart and batchLen).
	require.Equal(t, 5_000, nextBatchSize(true, 100_000, 100, 110))
	require.Equal(t, batchStart, nextBatchSize(true, 100_000, 119, 120), "at the end")
	require.Equal(t, batchLen, nextBatchSize(true, 100_000, 130, 120), "a header that claims too few buffers")
	require.Equal(t, batchLen, nextBatchSize(true, math.MaxInt32, 1, math.MaxInt32), "no overflow")
}

// TestBatchRoom checks room, which compares ns with left, against the
// three limits it stands for, through random runs of added records,
// copied events, new frame lists, seals and resets.
func TestBatchRoom(t *testing.T) {
	want := func(b *batch) bool {
		return b.n+b.ns < b.size && b.nev < batchEvents && len(b.frames) <= batchFrames-maxListFrames
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b := newBatch()
	// Per mille of copied events and of new lists, drawn per batch, so
	// that each limit ends some batches.
	evs, lists := 10, 10
	var ended [3]int
	for step := range 400_000 {
		if got, w := b.room(), want(b); got != w {
			t.Fatalf("step %d: room %v, the limits say %v (n %d, ns %d, size %d, nev %d, frames %d)", step, got, w, b.n, b.ns, b.size, b.nev, len(b.frames))
		}
		if !b.room() {
			switch {
			case b.n+b.ns >= b.size:
				ended[0]++
			case b.nev >= batchEvents:
				ended[1]++
			default:
				ended[2]++
			}
			b.seal()
			b.reset()
			b.setSize([]int{batchStart, batchLen, 100, 1}[rng.IntN(4)])
			evs, lists = []int{0, 10, 200}[rng.IntN(3)], []int{0, 10, 100}[rng.IntN(3)]
			continue
		}
		r := b.next()
		switch k := rng.IntN(1000); {
		case k < evs: // a copied event
			r.kind = recEvent
			if b.nev == len(b.evs) {
				b.evs = append(b.evs, etw.Event{})
			}
			b.nev++
			b.limit()
		case k < evs+lists: // a stack record with a new list
			r.kind = recStackNew
			for range 1 + rng.IntN(maxListFrames) {
				b.frames = append(b.frames, 1)
			}
			b.limit()
		default:
			r.kind = recSkip
		}
	}
	if ended[0] == 0 || ended[1] == 0 || ended[2] == 0 {
		t.Errorf("batches ended by size, copies, frames: %v; want each limit reached", ended)
	}
}
