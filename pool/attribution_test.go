package pool

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPIDAttribution: under Options.PID a block belongs to the process
// that allocated it (issue 15). Its free counts whoever logs it; frees of
// blocks the process did not allocate in the trace are left out, so there
// is no AOFI and no free without alloc, and frees never exceed allocs.
func TestPIDAttribution(t *testing.T) {
	const app, driver, other = 6428, 4, 900
	irp := MakeTag("Irp ")
	ops := []Op{
		{Time: 10, Kind: Alloc, Tag: irp, Entry: 0x1000, Size: 1024, PID: app},  // app's, freed by the driver
		{Time: 11, Kind: Alloc, Tag: irp, Entry: 0x2000, Size: 1024, PID: app},  // app's, leaked
		{Time: 12, Kind: Alloc, Tag: irp, Entry: 0x3000, Size: 512, PID: other}, // another process's
		{Time: 13, Kind: Free, Tag: irp, Entry: 0x1000, PID: driver},            // counts for app
		{Time: 14, Kind: Free, Tag: irp, Entry: 0x3000, PID: app},               // not app's block
		{Time: 15, Kind: Free, Tag: irp, Entry: 0x9000, Size: 64, PID: app},     // allocated before the trace
		{Time: 16, Kind: Alloc, Tag: irp, Entry: 0x3000, Size: 256, PID: app},   // address reused by app
		{Time: 17, Kind: Alloc, Tag: irp, Entry: 0x4000, Size: 128, PID: other}, // other's open block...
		{Time: 18, Kind: Free, Tag: irp, Entry: 0x4000, PID: app},               // ...freed in app's context
		{Time: 19, Kind: Alloc, Tag: MakeTag("Even"), Entry: 0x5000, Size: 128, PID: other},
		{Time: 20, Kind: Free, Tag: MakeTag("Even"), Entry: 0x5000, PID: other},
	}
	run := func(o Options) *Report {
		l := NewLedger(o)
		for i := range ops {
			op := ops[i]
			l.Apply(&op)
		}
		return l.Finish()
	}

	all := run(Options{Frequency: 10})
	assert.Equal(t, uint64(1), all.Anomalies.FreeWithoutAlloc, "without -pid the unmatched free is an anomaly")

	r := run(Options{Frequency: 10, PID: app, HasPID: true})
	checkReport(t, r)
	require.Len(t, r.Tags, 1, "the Even tag belongs to another process only")
	tg := r.Tags[0]
	assert.Equal(t, irp, tg.Tag)
	assert.Equal(t, uint64(3), tg.Allocs)
	assert.Equal(t, uint64(1), tg.Frees, "only the free of the app's own block")
	assert.Equal(t, uint64(0), tg.AOFI)
	assert.Equal(t, uint64(0), tg.FreeWithoutAlloc)
	assert.Equal(t, uint64(2), tg.OutstandingCount)
	assert.Equal(t, uint64(1024+256), tg.OutstandingBytes)
	assert.LessOrEqual(t, tg.BytesFreed, tg.BytesAllocated)
	assert.Equal(t, Anomalies{}, r.Anomalies)
	assert.Equal(t, uint64(4), r.Trace.PoolEvents, "3 allocs and 1 free are the app's")
	require.Len(t, r.Processes, 1)
	assert.Equal(t, uint32(app), r.Processes[0].PID)

	none := run(Options{Frequency: 10, PID: 99999, HasPID: true})
	assert.Empty(t, none.Tags, "a process with no allocations has no tags")
	assert.Equal(t, Totals{}, none.Totals)
	assert.Equal(t, uint64(0), none.Trace.PoolEvents)
}

// TestPIDAttributionLostFree: a block of the process whose free was lost is
// closed when another process allocates at its address (as without a
// filter), and that process's free does not count for it.
func TestPIDAttributionLostFree(t *testing.T) {
	l := NewLedger(Options{Frequency: 10, PID: 1, HasPID: true})
	tag := MakeTag("Irp ")
	l.Apply(&Op{Time: 1, Kind: Alloc, Tag: tag, Entry: 0x10, Size: 8, PID: 1})
	l.Apply(&Op{Time: 2, Kind: Alloc, Tag: tag, Entry: 0x10, Size: 8, PID: 2})
	l.Apply(&Op{Time: 3, Kind: Free, Tag: tag, Entry: 0x10, PID: 2})
	r := l.Finish()
	require.Len(t, r.Tags, 1)
	assert.Equal(t, uint64(0), r.Tags[0].Frees)
	assert.Equal(t, uint64(0), r.Tags[0].OutstandingCount)
	assert.Equal(t, uint64(1), r.Anomalies.AllocOverOpenBlock)
}

// TestWindowGrowth: a window report carries growth, R² and leak rank
// computed over the bins of the trace's series that overlap the window
// (issue 15: they were all zero).
func TestWindowGrowth(t *testing.T) {
	const freq = 1000
	grow, flat := MakeTag("Grow"), MakeTag("Flat")
	// Grow: 100 bytes every 10 ms from 4 s to 8 s, nothing before or after.
	// Flat: 50 KB held from the start, never freed.
	w := Window{Start: 2 * freq, End: 8 * freq}
	l := NewLedger(Options{Frequency: freq, Windows: []Window{w}})
	l.Apply(&Op{Time: 0, Kind: Alloc, Tag: flat, Entry: 1, Size: 50_000})
	addr := uint64(0x1000)
	for ms := int64(4000); ms < 8000; ms += 10 {
		addr += 0x10
		l.Apply(&Op{Time: ms, Kind: Alloc, Tag: grow, Entry: addr, Size: 100})
	}
	l.Apply(&Op{Time: 9999, Kind: Alloc, Tag: MakeTag("Late"), Entry: 2, Size: 1})
	r := l.Finish()
	require.Len(t, r.Windows, 1)
	for _, wr := range []WindowReport{r.Windows[0], mustWindow(t, l, Window{Start: 2 * freq, End: 8 * freq})} {
		tags := map[string]TagStats{}
		for _, tg := range wr.Tags {
			tags[tg.Tag.String()] = tg
		}
		require.Contains(t, tags, "Grow")
		require.Contains(t, tags, "Flat")
		assert.NotContains(t, tags, "Late")
		g := tags["Grow"]
		assert.Len(t, g.Series, 6, "bins 2..7 overlap the window")
		assert.Greater(t, g.GrowthBytesPerS, 5000.0)
		assert.Greater(t, g.GrowthR2, 0.7)
		assert.Equal(t, 1, g.LeakRank)
		assert.Equal(t, 2, tags["Flat"].LeakRank)
		assert.Equal(t, 0.0, tags["Flat"].GrowthBytesPerS)
	}
}

func mustWindow(t *testing.T, l *Ledger, w Window) WindowReport {
	t.Helper()
	wr, err := l.Window(w)
	require.NoError(t, err)
	return *wr
}

func TestParseTag(t *testing.T) {
	irp, err := ParseTag("Irp")
	require.NoError(t, err)
	assert.Equal(t, "Irp ", irp.String())
	for _, bad := range []string{"", "ThisIsLong", "Irp  "} {
		_, err := ParseTag(bad)
		assert.ErrorIs(t, err, ErrTagText, "%q", bad)
	}
	seen := []Tag{MakeTag("Irp "), MakeTag("IrpX"), MakeTag("Toke"), MakeTag("Even"), MakeTag("Irp ")}
	assert.Equal(t, []Tag{MakeTag("Irp "), MakeTag("IrpX")}, SimilarTags("irp", seen))
	assert.Equal(t, []Tag{MakeTag("Irp ")}, SimilarTags("IRP ", seen[:1]))
	assert.Equal(t, []Tag{MakeTag("Toke")}, SimilarTags("tokenize", seen))
	assert.Empty(t, SimilarTags("Ntfx", seen))
	assert.Empty(t, SimilarTags("  ", seen))
}
