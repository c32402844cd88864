package stacks_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomStackStream returns a time-ordered stream of pool events, stack
// key references (kernel, and user parts that come late), key
// definitions with key reuse, and unrelated events, over a few threads
// and processors.
func randomStackStream(seed uint64, n int) []*etw.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []*etw.Event
	ts := int64(1000)
	type late struct {
		at, eventTS int64
		tid         etw.TID
		key         uint64
	}
	var lates []late
	for range n {
		ts += int64(rng.IntN(41)) // equal timestamps too
		for len(lates) > 0 && lates[0].at <= ts {
			l := lates[0]
			lates = lates[1:]
			out = append(out, keyRefEvent(l.at, l.eventTS, 1000, l.tid, false, l.key))
		}
		switch r := rng.IntN(10); {
		case r < 4:
			tid := etw.TID(1 + rng.IntN(6))
			pid := etw.PID(1000)
			if tid == 6 {
				pid = 4 // System: no user part
			}
			ev := poolEvent(ts, pid, tid)
			ev.Processor = uint16(rng.IntN(4))
			out = append(out, ev)
			if rng.IntN(8) != 0 {
				kr := keyRefEvent(ts, ts, pid, tid, true, uint64(0x100+rng.IntN(20)))
				kr.Processor = ev.Processor
				if rng.IntN(10) == 0 {
					kr.Processor ^= 1 // the pair split across processors
				}
				out = append(out, kr)
			}
			if pid != 4 && rng.IntN(5) != 0 {
				l := late{at: ts + int64(rng.IntN(1500)), eventTS: ts, tid: tid, key: uint64(0x900 + rng.IntN(20))}
				i := len(lates)
				for i > 0 && lates[i-1].at > l.at {
					i--
				}
				lates = slices.Insert(lates, i, l)
			}
		case r < 5:
			out = append(out, keyDefEvent(ts, 35, uint64(0x100+rng.IntN(20)), k1+uint64(rng.IntN(5))*16, k2))
		case r < 6:
			out = append(out, keyDefEvent(ts, 35, uint64(0x900+rng.IntN(20)), u1+uint64(rng.IntN(5))*16, u2))
		default:
			// An event nobody waits for.
			out = append(out, &etw.Event{Header: etw.HeaderSystem64, Hook: 0x0524, Provider: etw.ProcessGUID, Opcode: 0x24, Timestamp: ts,
				PID: 1000, TID: 1})
		}
	}
	for _, l := range lates {
		out = append(out, keyRefEvent(max(l.at, ts), l.eventTS, 1000, l.tid, false, l.key))
	}
	return out
}

// TestAwaitMatchesEvent feeds the same stream twice: every event through
// Event, and the way a caller that decodes its own records does it (pool
// events through Await, or AwaitKernelKey when their kernel key reference
// follows at once, key references through KeyReference, events the
// correlator does not use through Advance). Emitted stacks, their frames
// and the statistics must agree, with some pool events in PERFINFO
// headers (no process or thread).
func TestAwaitMatchesEvent(t *testing.T) {
	for seed := range uint64(20) {
		evs := randomStackStream(seed, 3000)
		for i, ev := range evs {
			if ev.Provider == etw.PoolGUID && i%4 == 0 {
				// A PERFINFO header: no process, no thread.
				ev.Header, ev.PID, ev.TID = etw.HeaderPerfInfo64, etw.NoPID, etw.NoTID
			}
		}
		var a, b []emitted
		ca := newTestCorrelator(&a)
		for _, ev := range evs {
			ca.Event(ev)
		}
		ca.Finish()

		var queue []int64
		cb := stacks.NewCorrelator(stacks.Options{
			PointerSize: 8,
			Wait:        1000,
			Want:        func(ev *etw.Event) bool { return ev.Provider == etw.PoolGUID },
			Emit: func(ev *etw.Event, id stacks.StackID) {
				require.Nil(t, ev, "an awaited event is emitted without an event")
				b = append(b, emitted{queue[0], id})
				queue = queue[1:]
			},
		})
		merged := 0
		for i := 0; i < len(evs); i++ {
			ev := evs[i]
			switch {
			case ev.Provider == etw.PoolGUID:
				queue = append(queue, ev.Timestamp)
				if i+1 < len(evs) && evs[i+1].Opcode == 37 && evs[i+1].Processor == ev.Processor {
					k, err := etw.DecodeStackKey(evs[i+1])
					require.NoError(t, err)
					// A PERFINFO-headed event (no thread) pairs with the
					// key that follows it too, as leak.RunReader pairs them.
					if k.EventTimeStamp == ev.Timestamp && (k.Thread == stacks.ThreadOf(ev) || stacks.ThreadOf(ev) == etw.NoTID) {
						cb.AwaitKernelKey(ev.Timestamp, ev.PID, stacks.ThreadOf(ev), ev.Processor, &k, evs[i+1].Timestamp)
						merged++
						i++
						continue
					}
				}
				cb.Await(ev.Timestamp, ev.PID, stacks.ThreadOf(ev), ev.Processor)
			case ev.Opcode == 37 || ev.Opcode == 38:
				k, err := etw.DecodeStackKey(ev)
				require.NoError(t, err)
				cb.KeyReference(&k, ev.Processor, ev.Timestamp)
			case cb.Uses(ev):
				cb.Event(ev)
			default:
				cb.Advance(ev.Timestamp)
			}
		}
		cb.Finish()
		require.NotZero(t, merged)

		if seed == 0 {
			t.Logf("stats %+v", ca.Stats())
		}
		require.Equal(t, a, b, "seed %d", seed)
		assert.Equal(t, ca.Stats(), cb.Stats(), "seed %d", seed)
		assert.Positive(t, ca.Stats().ProcessFromStack, "seed %d", seed)
		require.Equal(t, ca.NumStacks(), cb.NumStacks())
		for id := stacks.StackID(1); int(id) <= ca.NumStacks(); id++ {
			assert.Equal(t, ca.Stack(id), cb.Stack(id), "seed %d stack %d", seed, id)
		}
	}
}

// TestUses checks the filters: what Uses rejects, Event ignores.
func TestUses(t *testing.T) {
	var out []emitted
	c := newTestCorrelator(&out)
	assert.True(t, c.Uses(poolEvent(1, 1, 1)))
	assert.True(t, c.Uses(keyRefEvent(1, 1, 1, 1, true, 5)))
	assert.True(t, c.Uses(keyDefEvent(1, 35, 5, k1)))
	other := &etw.Event{Header: etw.HeaderSystem64, Hook: 0x0524, Provider: etw.ProcessGUID, Opcode: 0x24}
	assert.False(t, c.Uses(other))

	mods := stacks.NewModules(8)
	assert.True(t, mods.Uses(&etw.Event{Header: etw.HeaderSystem64, Hook: etw.HookImageLoad, Provider: etw.ImageGUID, Opcode: 10}))
	assert.True(t, mods.Uses(&etw.Event{Header: etw.HeaderSystem64, Hook: 0x0301, Provider: etw.ProcessGUID, Opcode: 1}))
	assert.False(t, mods.Uses(poolEvent(1, 1, 1)))
	meth := stacks.NewMethods()
	assert.True(t, meth.Uses(&etw.Event{Header: etw.HeaderEvent64, Provider: stacks.CLRRuntimeGUID, ID: 143}))
	assert.False(t, meth.Uses(&etw.Event{Header: etw.HeaderEvent64, Provider: stacks.CLRRuntimeGUID, ID: 145}))
	assert.False(t, meth.Uses(poolEvent(1, 1, 1)))
}
