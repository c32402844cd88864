package stacks_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/stacks"
	"github.com/stretchr/testify/require"
)

// TestStackReferenceMatchesEvent feeds a generated trace with full stack
// walks (both pointer sizes) to two correlators: one takes every event,
// the other takes pool events through Await and Stack records through
// InternFrames and StackReference, or (paired) a pool event and the Stack
// record right after it on its processor through AwaitStack. Both must
// emit the same stacks in the same order, with the same statistics and
// kept records.
func TestStackReferenceMatchesEvent(t *testing.T) {
	for _, ptr := range []int{8, 4} {
		for _, paired := range []bool{false, true} {
			for _, hdr := range []etltest.HeaderKind{etltest.HeaderSystem, etltest.HeaderPerfInfo} {
				t.Run(fmt.Sprint(ptr, paired, hdr), func(t *testing.T) { checkStackReference(t, ptr, paired, hdr) })
			}
		}
	}
}

// checkStackReference runs TestStackReferenceMatchesEvent on a scenario of
// pointer size ptr whose PoolTrace records have headers of kind hdr
// (PERFINFO: no process, no thread).
func checkStackReference(t *testing.T, ptr int, paired bool, hdr etltest.HeaderKind) {
	sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: 9, Events: 4000, Leak: true, PointerSize: ptr, Damage: true, PoolHeader: hdr})
	data, err := sc.Bytes(sc.WriterOptions())
	require.NoError(t, err)
	r, err := etw.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)

	var want, got []stacks.Stack
	isPool := func(ev *etw.Event) bool { return ev.Provider == etw.PoolGUID }
	var a, b *stacks.Correlator
	a = stacks.NewCorrelator(stacks.Options{PointerSize: ptr, Want: isPool, KeepRecords: true,
		Emit: func(_ *etw.Event, id stacks.StackID) { want = append(want, a.Stack(id)) }})
	b = stacks.NewCorrelator(stacks.Options{PointerSize: ptr, Want: isPool, KeepRecords: true,
		Emit: func(_ *etw.Event, id stacks.StackID) { got = append(got, b.Stack(id)) }})
	ids := map[string]stacks.FramesID{}
	var held *etw.Event // a pool event waiting to be paired with the next record
	release := func() {
		if held != nil {
			b.Await(held.Timestamp, held.PID, stacks.ThreadOf(held), held.Processor)
			held = nil
		}
	}
	n, pairs := 0, 0
	for ev, err := range r.All() {
		require.NoError(t, err)
		a.Event(ev)
		switch {
		case isPool(ev):
			release()
			if paired {
				held = ev.Clone()
			} else {
				b.Await(ev.Timestamp, ev.PID, stacks.ThreadOf(ev), ev.Processor)
			}
		case ev.Provider == etw.StackWalkGUID && ev.Opcode == 32:
			s, err := etw.DecodeStack(ev)
			require.NoError(t, err)
			key := fmt.Sprint(s.AppendFrames(nil))
			id, ok := ids[key]
			if !ok {
				id = b.InternFrames(s.AppendFrames(nil))
				ids[key] = id
			}
			ref := &stacks.StackRef{EventTimeStamp: s.EventTimeStamp, Process: s.Process, Thread: s.Thread,
				Frames: id, PointerSize: ev.PointerSize()}
			if held != nil && held.Processor == ev.Processor {
				b.AwaitStack(held.Timestamp, held.PID, stacks.ThreadOf(held), held.Processor, ref, ev.Timestamp)
				held = nil
				pairs++
			} else {
				release()
				b.StackReference(ref, ev.Processor, ev.Timestamp)
			}
			n++
		default:
			release()
			b.Event(ev)
		}
	}
	release()
	a.Finish()
	b.Finish()
	require.Greater(t, n, 4000)
	if paired {
		require.Greater(t, pairs, 2000)
	}
	require.Equal(t, a.Stats(), b.Stats())
	require.Equal(t, want, got)
	require.Equal(t, a.Records(), b.Records())
}

// A caller that decodes StackWalk Stack records itself interns each
// distinct frame list once and passes its ID with every record.
func ExampleCorrelator_StackReference() {
	var id stacks.StackID
	c := stacks.NewCorrelator(stacks.Options{PointerSize: 8, Emit: func(_ *etw.Event, s stacks.StackID) { id = s }})
	frames := c.InternFrames([]uint64{0xfffff80000001234, 0xfffff80000005678})
	c.Await(100, 4, 8, 0) // a pool event of thread 8 in System (no user mode) at tick 100
	c.StackReference(&stacks.StackRef{EventTimeStamp: 100, Process: 4, Thread: 8, Frames: frames}, 0, 101)
	c.Finish()
	fmt.Printf("%#x\n", c.Stack(id).Kernel)
	// Output:
	// [0xfffff80000001234 0xfffff80000005678]
}
