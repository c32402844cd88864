package pool

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKindOf(t *testing.T) {
	cases := []struct {
		typ     uint32
		session bool
		want    Kind
	}{
		{0, false, NonPaged},
		{1, false, Paged},
		{2, false, NonPaged},
		{4, false, NonPaged},
		{5, false, Paged},
		{6, false, NonPaged},
		{0x200, false, NonPaged}, // NonPagedPoolNx
		{0x204, false, NonPaged}, // NonPagedPoolNxCacheAligned
		{uint32(TypeBigPool) | 1, false, Paged},
		{uint32(TypeBigPool), false, NonPaged},
		{32, false, NonPagedSession},
		{33, false, PagedSession},
		{0x220, false, NonPagedSession}, // NonPagedPoolSessionNx
		{0, true, NonPagedSession},
		{1, true, PagedSession},
		{0x80000000 | 1, false, Paged},         // POOL_MM_ALLOCATION
		{8 | 16 | 256 | 1024, false, NonPaged}, // modifier flags
	}
	for _, c := range cases {
		assert.Equal(t, c.want, KindOf(c.typ, c.session), "type %#x session %v", c.typ, c.session)
	}
	assert.True(t, (TypeBigPool | TypeNX).IsBigPool())
	assert.False(t, TypeNX.IsBigPool())
	for typ := range Type(0x400) {
		assert.Equal(t, KindOf(uint32(typ), false), typ.Kind(), "type %#x", uint32(typ))
	}
	for k := range numKinds {
		b, err := k.MarshalText()
		require.NoError(t, err)
		var back Kind
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, k, back)
	}
	assert.Equal(t, "kind(9)", Kind(9).String())
	_, err := Kind(9).MarshalText()
	assert.Error(t, err)
	var k Kind
	assert.Error(t, k.UnmarshalText([]byte("huge")))
}

func TestTag(t *testing.T) {
	irp := MakeTag("Irp")
	assert.Equal(t, Tag(0x20707249), irp)
	assert.Equal(t, "Irp ", irp.String())
	assert.Equal(t, MakeTag("MmSt"), MakeTag("MmStXX"))
	assert.Equal(t, `a\x00\x5c\xff`, Tag(0xff5c0061).String())
	b, err := json.Marshal(irp)
	require.NoError(t, err)
	assert.Equal(t, `"Irp "`, string(b))
}

func TestInternStack(t *testing.T) {
	l := NewLedger(Options{})
	kern := []uint64{0xfffff80000001000, 0xfffff80000002000}
	user := []uint64{0xfffff80000001000, 0x7ff700001000}
	k1 := l.InternStack(4, kern)
	k2 := l.InternStack(100, slices.Clone(kern))
	assert.Equal(t, k1, k2, "kernel-only stacks are shared by all processes")
	u1 := l.InternStack(100, user)
	u2 := l.InternStack(200, user)
	assert.NotEqual(t, u1, u2, "user frames are per process")
	assert.Equal(t, u1, l.InternStack(100, user))
	assert.Equal(t, NoStack, l.InternStack(4, nil))
	pid, fr := l.Stack(u2)
	assert.Equal(t, uint32(200), pid)
	assert.Equal(t, user, fr)
	pid, fr = l.Stack(k2)
	assert.Equal(t, uint32(0), pid)
	assert.Equal(t, kern, fr)
	pid, fr = l.Stack(999)
	assert.Zero(t, pid)
	assert.Nil(t, fr)

	// The caller's slice is copied.
	buf := slices.Clone(kern)
	id := l.InternStack(1, buf)
	buf[0] = 1
	_, fr = l.Stack(id)
	assert.Equal(t, kern, fr)

	// 32-bit traces: kernel starts at 0x80000000.
	l32 := NewLedger(Options{PointerSize: 4})
	a := l32.InternStack(1, []uint64{0x80001000})
	assert.Equal(t, a, l32.InternStack(2, []uint64{0x80001000}))
	assert.NotEqual(t, l32.InternStack(1, []uint64{0x7fff0000}), l32.InternStack(2, []uint64{0x7fff0000}))

	// Truncation.
	long := make([]uint64, MaxStackFrames+10)
	for i := range long {
		long[i] = 0xfffff80000000000 + uint64(i)
	}
	id = l.InternStack(1, long)
	_, fr = l.Stack(id)
	assert.Len(t, fr, MaxStackFrames)
	assert.Equal(t, id, l.InternStack(1, long[:MaxStackFrames]))
	assert.Equal(t, uint64(1), l.Finish().Anomalies.TruncatedStacks)

	// Lookups of a known stack do not allocate.
	allocs := testing.AllocsPerRun(100, func() { l.InternStack(100, user) })
	assert.Zero(t, allocs)
}

func TestInternStackCollisions(t *testing.T) {
	// Many distinct stacks keep distinct IDs and find themselves again.
	l := NewLedger(Options{})
	ids := map[StackID]bool{}
	for i := range 5000 {
		f := []uint64{0xfffff80000000000 + uint64(i%71), uint64(i)}
		id := l.InternStack(uint32(i%3), f)
		require.False(t, ids[id])
		ids[id] = true
		require.Equal(t, id, l.InternStack(uint32(i%3), f))
	}
}

// TestWindowEveryBoundary classifies a hand-built stream for every window
// whose ends lie in and around it, at tick resolution (every tick is a bin
// boundary) and as declared windows, and checks a few by hand.
func TestWindowEveryBoundary(t *testing.T) {
	irp, file := MakeTag("Irp "), MakeTag("File")
	ops := []Op{
		{Time: 10, Kind: Alloc, Tag: irp, Entry: 0xA, Size: 1},                                 // A: 10..12
		{Time: 10, Kind: Alloc, Tag: file, Entry: 0xA, Size: 100, Session: true, SessionID: 1}, // S: 10..18, session space
		{Time: 11, Kind: Alloc, Tag: irp, Entry: 0xB, Size: 2},                                 // B: replaced at 15
		{Time: 12, Kind: Free, Tag: irp, Entry: 0xA},                                           // A freed
		{Time: 12, Kind: Alloc, Tag: irp, Entry: 0xC, Size: 4},                                 // C: 12..12
		{Time: 12, Kind: Free, Tag: irp, Entry: 0xC},
		{Time: 13, Kind: Free, Tag: file, Entry: 0xD, Size: 8},           // D: free without alloc
		{Time: 15, Kind: Alloc, Tag: file, Entry: 0xB, Size: 16},         // E: over B, open
		{Time: 16, Kind: Alloc, Tag: irp, Entry: 0xF, Size: 32, Type: 1}, // F: paged, 16..20
		{Time: 18, Kind: Free, Tag: file, Entry: 0xA, Session: true, SessionID: 1},
		{Time: 20, Kind: Free, Tag: irp, Entry: 0xF, Type: 1},
	}
	var windows []Window
	for a := int64(8); a <= 22; a++ {
		for b := a + 1; b <= 23; b++ {
			windows = append(windows, Window{a, b})
		}
	}
	m := newRefModel(10)
	for _, op := range ops {
		m.apply(op)
	}
	run := func(declared []Window) *Ledger {
		l := NewLedger(Options{Start: 10, Resolution: 1, Frequency: 1, Windows: declared})
		for i := range ops {
			l.Apply(&ops[i])
		}
		return l
	}
	l := run(nil)
	checkReport(t, l.Finish())
	for _, w := range windows {
		wr, err := l.Window(w)
		require.NoError(t, err)
		require.Equal(t, "bins", wr.Exact)
		require.Equal(t, dump(m.window(w)), dump(classesOf(wr.Tags)), "window %v", w)
	}
	for chunk := range slices.Chunk(windows, MaxWindows) {
		ld := run(chunk)
		r := ld.Finish()
		for i, w := range chunk {
			require.Equal(t, dump(m.window(w)), dump(classesOf(r.Windows[i].Tags)), "declared window %v", w)
			wr, err := ld.Window(w)
			require.NoError(t, err)
			require.Equal(t, "ticks", wr.Exact)
		}
	}

	// By hand: [12, 16): A freed inside (AOFI), B replaced (not classified),
	// C AIFI, D AOFI (free without alloc), E AIFO, F after, S AOFO.
	wr, err := l.Window(Window{12, 16})
	require.NoError(t, err)
	assert.Equal(t, Totals{Allocs: 2, Frees: 3, AIFI: 1, AIFO: 1, AOFI: 2, AOFO: 1, OutstandingCount: 2, OutstandingBytes: 116,
		BytesAllocated: 20, BytesFreed: 13}, wr.Totals)
	assert.Equal(t, ClassBytes{AIFI: 4, AIFO: 16, AOFI: 9, AOFO: 100}, wr.ClassBytes)
	// [10, 12): A, B and S allocated inside and outstanding at 12; C at 12 is outside.
	wr, err = l.Window(Window{10, 12})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), wr.Totals.AIFO) // A and S; B was replaced later
	assert.Equal(t, uint64(3), wr.Totals.Allocs)
	// The whole trace.
	r := l.Finish()
	assert.Equal(t, Totals{Allocs: 6, Frees: 5, AIFI: 4, AIFO: 1, AOFI: 1, OutstandingCount: 1, OutstandingBytes: 16,
		BytesAllocated: 155, BytesFreed: 145}, r.Totals)
	assert.Equal(t, uint64(1), r.Anomalies.AllocOverOpenBlock)
	assert.Equal(t, uint64(1), r.Anomalies.FreeWithoutAlloc)
}

func TestWindowErrors(t *testing.T) {
	l := NewLedger(Options{Start: 100, Resolution: 10, Frequency: 10})
	for _, tm := range []int64{100, 105, 131, 150} {
		l.Apply(&Op{Time: tm, Kind: Alloc, Tag: MakeTag("Test"), Entry: uint64(tm), Size: 1})
	}
	_, err := l.Window(Window{120, 110})
	require.ErrorIs(t, err, ErrWindow)
	_, err = l.Window(Window{115, 130})
	require.ErrorIs(t, err, ErrWindow)
	assert.Contains(t, err.Error(), "[110, 130)")
	s := l.SnapWindow(Window{115, 131})
	assert.Equal(t, Window{110, 140}, s)
	wr, err := l.Window(s)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), wr.Totals.AIFO) // the block at 131
	assert.Equal(t, uint64(2), wr.Totals.AOFO) // 100 and 105; 150 is after
	assert.Equal(t, Window{110, 125}, l.SecondsWindow(1, 2.5))
	wr, err = l.Window(Window{0, 1 << 40})
	require.NoError(t, err)
	assert.Equal(t, uint64(4), wr.Totals.AIFO)
}

func TestOutOfOrderAndInvalid(t *testing.T) {
	l := NewLedger(Options{Frequency: 1})
	tag := MakeTag("Ooo ")
	l.Apply(&Op{Time: 10, Kind: Alloc, Tag: tag, Entry: 1, Size: 8})
	l.Apply(&Op{Time: 5, Kind: Free, Tag: tag, Entry: 1})
	l.Apply(&Op{Time: 7, Kind: 9})
	l.Apply(&Op{Time: 11, Kind: Alloc, Tag: tag, Entry: 2, Size: 8, Stack: 77})
	r := l.Finish()
	assert.Equal(t, uint64(1), r.Anomalies.OutOfOrder)
	assert.Equal(t, uint64(1), r.Anomalies.InvalidOps)
	assert.Equal(t, uint64(1), r.Anomalies.UnknownStack)
	assert.Equal(t, uint64(3), r.Trace.PoolEvents)
	assert.Equal(t, uint64(1), r.Totals.AIFI, "the early free is applied at the previous time and still matches")
	checkReport(t, r)
}

func TestApplyDoesNotAllocate(t *testing.T) {
	l := NewLedger(Options{})
	st := l.InternStack(4, []uint64{0xfffff80000001000})
	op := Op{Time: 1000, Kind: Alloc, Tag: MakeTag("Irp "), Entry: 0xffffa000, Size: 1024, Stack: st}
	free := op
	free.Kind = Free
	l.Apply(&op)
	l.Apply(&free)
	n := testing.AllocsPerRun(1000, func() {
		op.Time++
		free.Time = op.Time
		l.Apply(&op)
		l.Apply(&free)
	})
	assert.Zero(t, n)
}

// TestIrpLeak is the motivating case: 156 nonpaged 1,024-byte Irp blocks
// never freed, all from one WOW64 ReadFile stack, among busy churn.
func TestIrpLeak(t *testing.T) {
	const freq = 10_000_000
	l := NewLedger(Options{Frequency: freq, PointerSize: 8})
	readFile := l.InternStack(4242, []uint64{
		0xfffff8045a2b1000, 0xfffff8045a2c2000, 0xfffff8045a3d3000, // nt!IopAllocateIrp... (kernel)
		0x7ffb12340000, 0x77a01000, 0x77a02000, // ntdll, wow64 (64-bit user)
		0x76f01000, 0x75002000, 0x00401000, // SysWOW64 ntdll, KernelBase!ReadFile, app
	})
	churn := l.InternStack(4, []uint64{0xfffff8045a2b1000, 0xfffff8045a9f0000})
	irp := MakeTag("Irp ")
	t0 := int64(5_000_000_000)
	addr := uint64(0xffffc00000000000)
	for i := range 60 * 100 { // 60 s, 100 events per second of churn
		tm := t0 + int64(i)*freq/100
		addr += 0x1000
		l.Apply(&Op{Time: tm, Kind: Alloc, Tag: MakeTag("MmSt"), Type: 1, Entry: addr, Size: 4096, PID: 4, Stack: churn})
		l.Apply(&Op{Time: tm + 1, Kind: Free, Tag: MakeTag("MmSt"), Type: 1, Entry: addr})
		if i%38 == 0 && i/38 < 156 {
			l.Apply(&Op{Time: tm + 2, Kind: Alloc, Tag: irp, Type: 0x200, Entry: addr + 0x800, Size: 1024, PID: 4242, TID: 7, Stack: readFile})
		}
	}
	r := l.Finish()
	checkReport(t, r)
	require.NotEmpty(t, r.Tags)
	top := r.Tags[0]
	assert.Equal(t, "Irp ", top.Tag.String())
	assert.Equal(t, NonPaged, top.Pool)
	assert.Equal(t, uint64(156), top.OutstandingCount)
	assert.Equal(t, uint64(159744), top.OutstandingBytes)
	assert.Equal(t, 1, top.LeakRank)
	assert.InDelta(t, 159744.0/60, top.GrowthBytesPerS, 200)
	assert.Greater(t, top.GrowthR2, 0.95)
	require.Len(t, r.Stacks, 1)
	assert.Equal(t, uint64(156), r.Stacks[0].OutstandingCount)
	assert.Equal(t, uint32(4242), r.Stacks[0].PID)
	assert.Equal(t, Segments{Kernel: 3, User: 6}, r.Stacks[0].Segments)
	require.Len(t, r.Processes, 2)
	assert.Equal(t, uint32(4242), r.Processes[0].PID)
	assert.InDelta(t, 60.0, r.Trace.DurationS, 0.1)
}

// TestJSONSchema checks that the report marshals to poolleak's -json schema.
func TestJSONSchema(t *testing.T) {
	l := NewLedger(Options{})
	st := l.InternStack(4, []uint64{0xfffff80000001000, 0x7ff700001000})
	l.Apply(&Op{Time: 1, Kind: Alloc, Tag: MakeTag("Irp "), Entry: 1, Size: 1024, Stack: st, PID: 4})
	l.Apply(&Op{Time: 2, Kind: Free, Tag: MakeTag("Ntfx"), Entry: 9, Size: 8})
	r := l.Finish()
	r.Trace.File = "x.etl"
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &top))
	keys := func(raw json.RawMessage) []string {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &m))
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	has := func(raw json.RawMessage, want ...string) {
		t.Helper()
		got := keys(raw)
		for _, w := range want {
			assert.Contains(t, got, w)
		}
	}
	assert.Equal(t, []string{"anomalies", "stacks", "tags", "totals", "trace"}, keys(b))
	assert.Equal(t, []string{"buffers_lost", "duration_s", "end", "events", "events_lost", "file", "pool_events", "start"}, keys(top["trace"]))
	has(top["totals"], "allocs", "frees", "aifi", "aifo", "aofi", "aofo", "outstanding_count", "outstanding_bytes")
	has(top["anomalies"], "free_without_alloc", "alloc_over_open_block")
	var tags, stacks []json.RawMessage
	require.NoError(t, json.Unmarshal(top["tags"], &tags))
	require.NoError(t, json.Unmarshal(top["stacks"], &stacks))
	require.Len(t, tags, 2)
	has(tags[0], "tag", "pool", "allocs", "frees", "aifi", "aifo", "aofi", "aofo", "outstanding_count", "outstanding_bytes",
		"growth_bytes_per_s", "growth_r2", "leak_rank")
	require.Len(t, stacks, 1)
	assert.Equal(t, []string{"frames", "outstanding_bytes", "outstanding_count", "pool", "segments", "tag"}, keys(stacks[0]))
	assert.Equal(t, []string{"kernel", "user", "wow64"}, keys(mustField(t, stacks[0], "segments")))
	assert.Contains(t, string(b), `"tag":"Irp "`)
	assert.Contains(t, string(b), `"pool":"nonpaged"`)
	assert.Contains(t, string(b), `"frames":["0xfffff80000001000","0x7ff700001000"]`)
}

func mustField(t *testing.T, raw json.RawMessage, name string) json.RawMessage {
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[name]
}

func TestEmptyLedger(t *testing.T) {
	r := NewLedger(Options{}).Finish()
	checkReport(t, r)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"tags":[]`)
	assert.Contains(t, string(b), `"stacks":[]`)
}

func TestFinishIsASnapshot(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := NewLedger(Options{Frequency: 1000, Resolution: 500, MaxBins: 4,
		WallClock: func(ticks int64) time.Time { return base.Add(time.Duration(ticks) * time.Millisecond) }})
	tag := MakeTag("Snap")
	l.Apply(&Op{Time: 1000, Kind: Alloc, Tag: tag, Entry: 1, Size: 10})
	r1 := l.Finish()
	assert.Equal(t, uint64(1), r1.Totals.OutstandingCount)
	assert.Equal(t, base.Add(time.Second), r1.Trace.Start)
	l.Apply(&Op{Time: 2000, Kind: Free, Tag: tag, Entry: 1})
	l.Apply(&Op{Time: 5000, Kind: Alloc, Tag: tag, Entry: 2, Size: 20})
	r2 := l.Finish()
	assert.Equal(t, uint64(1), r1.Totals.OutstandingCount, "earlier report unchanged")
	assert.Equal(t, uint64(1), r2.Totals.AIFI)
	assert.Equal(t, uint64(20), r2.Totals.OutstandingBytes)
	assert.Equal(t, base.Add(5*time.Second), r2.Trace.End)
	assert.InDelta(t, 4.0, r2.Trace.DurationS, 1e-9)
	assert.Equal(t, int64(2000), r2.BinTicks, "4 s at 500-tick bins needs 9 bins; MaxBins 4 doubles twice")
	assert.Equal(t, []int64{0, 0, 20}, r2.Tags[0].Series, "alloc and free both in bin 0")
	checkReport(t, r2)
}

func TestSeriesMemoryBound(t *testing.T) {
	const tags, span = 2100, 4000 // 2100 × 4001 bins > MaxSeriesValues
	l := NewLedger(Options{Frequency: 1, Resolution: 1, MaxBins: 8192})
	for i := range tags {
		l.Apply(&Op{Time: 0, Kind: Alloc, Tag: Tag(i), Entry: uint64(i), Size: 1})
	}
	l.Apply(&Op{Time: span, Kind: Alloc, Tag: 0, Entry: 1 << 40, Size: 1})
	r := l.Finish()
	assert.Equal(t, int64(2), r.BinTicks)
	for _, tg := range r.Tags {
		require.Len(t, tg.Series, span/2+1)
	}
	assert.LessOrEqual(t, len(r.Tags)*len(r.Tags[0].Series), MaxSeriesValues)
	checkReport(t, r)
	// Windows on the coarser series boundaries stay exact.
	wr, err := l.Window(Window{2, 4})
	require.NoError(t, err)
	assert.Equal(t, uint64(tags), wr.Totals.AOFO)
}

// TestGroupsSumToTags checks that the per-group aggregates (the heap
// profile's input) add up to the tag totals.
func TestGroupsSumToTags(t *testing.T) {
	l := NewLedger(Options{})
	st := l.InternStack(7, []uint64{0x1000, 0x2000})
	ops := []Op{
		{Time: 1, Kind: Alloc, Tag: MakeTag("Irp "), Size: 1024, Entry: 0x10, PID: 7, Stack: st},
		{Time: 2, Kind: Alloc, Tag: MakeTag("Irp "), Size: 1024, Entry: 0x20, PID: 7, Stack: st},
		{Time: 3, Kind: Free, Tag: MakeTag("Irp "), Entry: 0x10},
		{Time: 4, Kind: Alloc, Tag: MakeTag("Even"), Size: 128, Entry: 0x30, PID: 8},
		{Time: 5, Kind: Free, Tag: MakeTag("Even"), Entry: 0x30},
	}
	for i := range ops {
		l.Apply(&ops[i])
	}
	r := l.Finish()
	require.Len(t, r.Groups, 2)
	byTag := map[string]GroupStats{}
	for _, g := range r.Groups {
		byTag[g.Tag.String()] = g
	}
	irp := byTag["Irp "]
	assert.Equal(t, GroupStats{Tag: MakeTag("Irp "), Pool: irp.Pool, PID: 7, Stack: st, Allocs: 2, Frees: 1,
		BytesAllocated: 2048, BytesFreed: 1024, OutstandingCount: 1, OutstandingBytes: 1024}, irp)
	assert.Equal(t, uint64(0), byTag["Even"].OutstandingCount)
	assert.Equal(t, uint64(1), byTag["Even"].Allocs)
}

// TestEmptyLedgerDuration: a trace without pool events has no span (the
// duration used to wrap around).
func TestEmptyLedgerDuration(t *testing.T) {
	r := NewLedger(Options{Start: 12345}).Finish()
	assert.Zero(t, r.Trace.DurationS)
	assert.Zero(t, r.Trace.PoolEvents)
}

// TestCallerKey: allocations group by the caller's opaque stack key, which
// comes back in the stacks and groups of the report; frees ignore it.
func TestCallerKey(t *testing.T) {
	l := NewLedger(Options{})
	irp := MakeTag("Irp ")
	keys := []uint64{7, 7, 1 << 40, 0}
	for i, k := range keys {
		l.Apply(&Op{Time: int64(i + 1), Kind: Alloc, Tag: irp, Size: 100, Entry: uint64(0x10 * (i + 1)), PID: 4, Key: k})
	}
	l.Apply(&Op{Time: 9, Kind: Free, Tag: irp, Entry: 0x10, Key: 12345})
	r := l.Finish()
	require.Len(t, r.Groups, 3)
	require.Len(t, r.Stacks, 3)
	byKey := map[uint64]StackStats{}
	for _, s := range r.Stacks {
		assert.Equal(t, NoStack, s.Stack)
		assert.Empty(t, s.Frames, "a key has no frames in the ledger")
		byKey[s.Key] = s
	}
	assert.Equal(t, uint64(1), byKey[7].OutstandingCount, "the free matched its block whatever its own key")
	assert.Equal(t, uint64(2), byKey[7].Allocs)
	assert.Equal(t, uint64(1), byKey[1<<40].OutstandingCount)
	assert.Equal(t, uint64(1), byKey[0].OutstandingCount)
	// Equal bytes, tag, pool and stack: the key orders the stacks.
	assert.Equal(t, []uint64{0, 7, 1 << 40}, []uint64{r.Stacks[0].Key, r.Stacks[1].Key, r.Stacks[2].Key})
}

// TestTagText: a tag's text form decodes back to the tag, escapes
// included, through encoding/json.
func TestTagText(t *testing.T) {
	for _, tag := range []Tag{MakeTag("Irp "), 0x00000041, 0xe1656c46, 0x5c5c5c5c} {
		b, err := json.Marshal(tag)
		require.NoError(t, err)
		var back Tag
		require.NoError(t, json.Unmarshal(b, &back), "%s", b)
		assert.Equal(t, tag, back, "%s", b)
	}
	var short Tag
	require.NoError(t, short.UnmarshalText([]byte("Irp")))
	assert.Equal(t, MakeTag("Irp "), short)
	assert.ErrorIs(t, short.UnmarshalText([]byte("Toolong")), ErrTagText)
}

// TestGroupSize: a group (the ledger's per-stack counters) stays 72 bytes.
func TestGroupSize(t *testing.T) {
	assert.Equal(t, uintptr(72), unsafe.Sizeof(group{}))
}
