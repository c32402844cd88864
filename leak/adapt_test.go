package leak

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/export"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

// handChain runs the chain a custom analyzer assembles from the packages
// with the adapters (PoolOp, the correlator's stack ID as pool.Op.Key,
// FrameExporter), as Example_custom does, and returns the ledger's report
// with the resolved frames of each key.
func handChain(t *testing.T, path string) (*pool.Report, map[uint64][]stacks.Frame, []export.Frame) {
	t.Helper()
	r, err := etw.Open(path)
	require.NoError(t, err)
	defer r.Close()
	ledger := pool.NewLedger(pool.Options{Frequency: r.Clock().Frequency, Start: r.HeaderEvent().Timestamp,
		PointerSize: r.PointerSize(), WallClock: r.Clock().Time})
	mods := stacks.NewModules(r.PointerSize())
	corr := stacks.NewCorrelator(stacks.Options{PointerSize: r.PointerSize(), Wait: stacks.WaitFor(r.Clock()), Want: isPool,
		Emit: func(ev *etw.Event, id stacks.StackID) {
			var pe etw.PoolEvent
			if pe.Decode(ev) != nil || !(pe.IsAlloc() || pe.IsFree()) {
				return
			}
			op := PoolOp(ev, &pe)
			op.Key = uint64(id)
			ledger.Apply(&op)
		}})
	for ev, err := range r.All() {
		require.NoError(t, err)
		mods.Event(ev)
		corr.Event(ev)
	}
	corr.Finish()
	mods.Finish()
	rep := ledger.Finish()
	res := &stacks.Resolver{Modules: mods, PointerSize: r.PointerSize()}
	frames := map[uint64][]stacks.Frame{}
	for _, s := range rep.Stacks {
		st := corr.Stack(stacks.StackID(s.Key))
		frames[s.Key] = res.Resolve(st.PID, st.Time, st.Frames())
	}
	var conv FrameExporter
	var top []export.Frame
	if len(rep.Stacks) > 0 {
		top = conv.Frames(frames[rep.Stacks[0].Key])
	}
	return rep, frames, top
}

// TestHandChainMatchesRun: the hand-built chain gives the pipeline's
// figures and stacks, on both header forms of the pool events and with
// full stack walks as with stack keys.
func TestHandChainMatchesRun(t *testing.T) {
	for _, keys := range []bool{false, true} {
		for _, hdr := range []etltest.HeaderKind{etltest.HeaderSystem, etltest.HeaderPerfInfo} {
			t.Run(map[bool]string{false: "walks", true: "keys"}[keys]+"/"+map[etltest.HeaderKind]string{etltest.HeaderSystem: "system", etltest.HeaderPerfInfo: "perfinfo"}[hdr], func(t *testing.T) {
				path := writeSymbolTraceKind(t, keys, hdr)
				res, err := Run(path, Options{})
				require.NoError(t, err)
				rep, frames, top := handChain(t, path)
				assert.Equal(t, res.Report.Totals, rep.Totals)
				assert.Equal(t, res.Report.Tags, rep.Tags)
				require.NotEmpty(t, rep.Stacks)
				require.NotEmpty(t, res.Stacks)
				want := res.Stacks[0]
				got := frames[rep.Stacks[0].Key]
				require.Len(t, got, len(want.Resolved))
				for i := range got {
					assert.Equal(t, want.Frames[i], got[i].String(), "frame %d", i)
				}
				require.Len(t, top, len(got))
				for i := range top {
					assert.Equal(t, got[i].Kind, top[i].Kind, "frame %d: one FrameKind for stacks and export", i)
					assert.Equal(t, got[i].Addr, top[i].Address)
				}
				if hdr == etltest.HeaderSystem {
					// (PERFINFO pool events name no thread, and get no stack
					// yet, in the pipeline as by hand.)
					require.NotEmpty(t, top)
					assert.Equal(t, export.Kernel, top[0].Kind, "the innermost frame of a pool allocation is the kernel's")
				}
			})
		}
	}
}
