package stacks_test

import (
	"encoding/binary"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func poolEvent(ts int64, pid etw.PID, tid etw.TID) *etw.Event {
	return &etw.Event{Header: etw.HeaderSystem64, Hook: 0x0E20, Provider: etw.PoolGUID, Opcode: 0x20, Version: 2,
		PID: pid, TID: tid, Timestamp: ts, Payload: make([]byte, 24)}
}

func stackEvent(ts, eventTS int64, pid etw.PID, tid etw.TID, frames ...uint64) *etw.Event {
	p := make([]byte, 16+8*len(frames))
	binary.LittleEndian.PutUint64(p, uint64(eventTS))
	binary.LittleEndian.PutUint32(p[8:], uint32(pid))
	binary.LittleEndian.PutUint32(p[12:], uint32(tid))
	for i, f := range frames {
		binary.LittleEndian.PutUint64(p[16+8*i:], f)
	}
	return &etw.Event{Header: etw.HeaderPerfInfo64, Hook: etw.HookStackWalk, Provider: etw.StackWalkGUID, Opcode: 32, Version: 2,
		PID: etw.NoPID, TID: etw.NoTID, Timestamp: ts, Payload: p}
}

func keyRefEvent(ts, eventTS int64, pid etw.PID, tid etw.TID, kernel bool, key uint64) *etw.Event {
	p := make([]byte, 24)
	binary.LittleEndian.PutUint64(p, uint64(eventTS))
	binary.LittleEndian.PutUint32(p[8:], uint32(pid))
	binary.LittleEndian.PutUint32(p[12:], uint32(tid))
	binary.LittleEndian.PutUint64(p[16:], key)
	op, hook := uint8(38), etw.HookStackKeyUser
	if kernel {
		op, hook = 37, etw.HookStackKeyKernel
	}
	return &etw.Event{Header: etw.HeaderPerfInfo64, Hook: hook, Provider: etw.StackWalkGUID, Opcode: op, Version: 2,
		PID: etw.NoPID, TID: etw.NoTID, Timestamp: ts, Payload: p}
}

func keyDefEvent(ts int64, opcode uint8, key uint64, frames ...uint64) *etw.Event {
	p := make([]byte, 8+8*len(frames))
	binary.LittleEndian.PutUint64(p, key)
	for i, f := range frames {
		binary.LittleEndian.PutUint64(p[8+8*i:], f)
	}
	return &etw.Event{Header: etw.HeaderPerfInfo64, Hook: etw.HookID(0x1800 | uint16(opcode)), Provider: etw.StackWalkGUID,
		Opcode: opcode, Version: 2, PID: etw.NoPID, TID: etw.NoTID, Timestamp: ts, Payload: p}
}

type emitted struct {
	ts int64
	id stacks.StackID
}

func newTestCorrelator(out *[]emitted) *stacks.Correlator {
	return stacks.NewCorrelator(stacks.Options{
		PointerSize: 8,
		Wait:        1000,
		Want:        func(ev *etw.Event) bool { return ev.Provider == etw.PoolGUID },
		Emit:        func(ev *etw.Event, id stacks.StackID) { *out = append(*out, emitted{ev.Timestamp, id}) },
	})
}

const (
	k1 = 0xfffff80000001000
	k2 = 0xfffff80000002000
	u1 = 0x00007ff800001000
	u2 = 0x0000000077001000
)

func TestUserFragmentArrivesLater(t *testing.T) {
	var out []emitted
	c := newTestCorrelator(&out)
	c.Event(poolEvent(100, 42, 7))
	c.Event(stackEvent(101, 100, 42, 7, k1, k2))
	c.Event(poolEvent(150, 42, 8)) // another thread, complete at once
	c.Event(stackEvent(151, 150, 42, 8, k1, u1))
	assert.Empty(t, out, "the first event waits for its user part and the second waits behind it")
	c.Event(stackEvent(400, 100, 42, 7, u1, u2))
	require.Len(t, out, 2)
	assert.Equal(t, int64(100), out[0].ts, "events are emitted in the order fed")
	s := c.Stack(out[0].id)
	assert.Equal(t, []uint64{k1, k2}, s.Kernel)
	assert.Equal(t, []uint64{u1, u2}, s.User)
	assert.Equal(t, []uint64{k1, k2, u1, u2}, s.Frames())
	assert.Equal(t, etw.PID(42), s.PID)
}

func TestKernelOnlyReleasedAfterWait(t *testing.T) {
	var out []emitted
	c := newTestCorrelator(&out)
	c.Event(poolEvent(100, 42, 7))
	c.Event(stackEvent(101, 100, 42, 7, k1))
	c.Event(poolEvent(900, 42, 7))
	assert.Empty(t, out)
	c.Event(poolEvent(1101, 42, 7)) // past the deadline of the first
	require.Len(t, out, 1)
	assert.Equal(t, []uint64{k1}, c.Stack(out[0].id).Kernel)
	assert.Nil(t, c.Stack(out[0].id).User)
	c.Finish()
	require.Len(t, out, 3)
	assert.Equal(t, stacks.NoStack, out[1].id)
	st := c.Stats()
	assert.Equal(t, int64(1), st.KernelOnly)
	assert.Equal(t, int64(2), st.WithoutStack)
}

func TestSystemThreadNeedsNoUserPart(t *testing.T) {
	var out []emitted
	c := newTestCorrelator(&out)
	c.Event(poolEvent(100, 4, 9))
	c.Event(stackEvent(101, 100, 4, 9, k1, k2))
	c.Event(poolEvent(102, 4, 9))
	require.Len(t, out, 1)
}

func TestSameStackSameID(t *testing.T) {
	var out []emitted
	c := newTestCorrelator(&out)
	for i := range int64(3) {
		ts := 100 + 10*i
		c.Event(poolEvent(ts, 42, 7))
		c.Event(stackEvent(ts+1, ts, 42, 7, k1, u1))
	}
	c.Event(poolEvent(200, 43, 7)) // same frames, other process: other stack
	c.Event(stackEvent(201, 200, 43, 7, k1, u1))
	c.Finish()
	require.Len(t, out, 4)
	assert.Equal(t, out[0].id, out[1].id)
	assert.Equal(t, out[0].id, out[2].id)
	assert.NotEqual(t, out[0].id, out[3].id)
	assert.Equal(t, 2, c.NumStacks())
}

func TestStackKeysWithReuse(t *testing.T) {
	var out []emitted
	c := newTestCorrelator(&out)
	const key = 0xffffc00000000100
	c.Event(poolEvent(100, 42, 7))
	c.Event(keyRefEvent(101, 100, 42, 7, true, key))
	c.Event(keyRefEvent(102, 100, 42, 7, false, key)) // same value, user table
	c.Event(keyDefEvent(200, 35, key, k1, k2))        // kernel KeyDelete
	c.Event(poolEvent(300, 42, 7))
	c.Event(keyRefEvent(301, 300, 42, 7, true, key)) // the key is reused
	c.Event(keyRefEvent(302, 300, 42, 7, false, key))
	c.Event(keyDefEvent(400, 36, key, k2))     // kernel rundown: second meaning
	c.Event(keyDefEvent(401, 36, key, u1, u2)) // user rundown, resolves both user refs
	c.Finish()
	require.Len(t, out, 2)
	a, b := c.Stack(out[0].id), c.Stack(out[1].id)
	assert.Equal(t, []uint64{k1, k2}, a.Kernel)
	assert.Equal(t, []uint64{k2}, b.Kernel)
	assert.Equal(t, []uint64{u1, u2}, a.User)
	assert.Equal(t, []uint64{u1, u2}, b.User)
	assert.False(t, a.Unresolved)
}

func TestUnresolvedKey(t *testing.T) {
	var out []emitted
	c := newTestCorrelator(&out)
	c.Event(poolEvent(100, 42, 7))
	c.Event(keyRefEvent(101, 100, 42, 7, true, 0xffffc00000000200))
	c.Finish()
	require.Len(t, out, 1)
	assert.True(t, c.Stack(out[0].id).Unresolved)
}

func TestIdleThreadsMatchByProcessor(t *testing.T) {
	var got []emitted
	c := stacks.NewCorrelator(stacks.Options{PointerSize: 8, Wait: 1000, KeepRecords: true,
		Emit: func(ev *etw.Event, id stacks.StackID) { got = append(got, emitted{int64(ev.Processor), id}) }})
	a := poolEvent(100, 0, 0)
	a.Processor = 1
	b := poolEvent(100, 0, 0)
	b.Processor = 2
	sa := stackEvent(101, 100, 0, 0, k1)
	sa.Processor = 1
	sb := stackEvent(101, 100, 0, 0, k2)
	sb.Processor = 2
	for _, ev := range []*etw.Event{a, b, sb, sa} {
		c.Event(ev)
	}
	c.Finish()
	require.Len(t, got, 2)
	assert.Equal(t, []uint64{k1}, c.Stack(got[0].id).Kernel)
	assert.Equal(t, []uint64{k2}, c.Stack(got[1].id).Kernel)
}

// TestThreadReturnedToUserMode: once a later event of the same thread got
// its user-mode part, an earlier kernel-only event gets none and is emitted
// without waiting for its deadline.
func TestThreadReturnedToUserMode(t *testing.T) {
	var out []emitted
	c := newTestCorrelator(&out)
	c.Event(poolEvent(100, 42, 7))
	c.Event(stackEvent(101, 100, 42, 7, k1)) // kernel only, waits
	c.Event(poolEvent(200, 42, 7))
	c.Event(stackEvent(201, 200, 42, 7, k2))
	assert.Empty(t, out)
	c.Event(stackEvent(300, 200, 42, 7, u1)) // the thread is back in user mode
	require.Len(t, out, 2, "both are emitted long before the deadline (1100)")
	assert.Equal(t, []uint64{k1}, c.Stack(out[0].id).Kernel)
	assert.Nil(t, c.Stack(out[0].id).User)
	second := c.Stack(out[1].id)
	assert.Equal(t, []uint64{k2, u1}, second.Frames())
}

// TestOutOfOrderInput: events fed out of time order still get their
// stacks (lookups fall back to a scan).
func TestOutOfOrderInput(t *testing.T) {
	var out []emitted
	c := newTestCorrelator(&out)
	c.Event(poolEvent(500, 42, 7))
	c.Event(poolEvent(100, 42, 8)) // earlier than the one before
	c.Event(stackEvent(501, 100, 42, 8, k1, u1))
	c.Event(stackEvent(502, 500, 42, 7, k2, u2))
	c.Finish()
	require.Len(t, out, 2)
	a, b := c.Stack(out[0].id), c.Stack(out[1].id)
	assert.Equal(t, []uint64{k2, u2}, a.Frames())
	assert.Equal(t, []uint64{k1, u1}, b.Frames())
}

// TestQueueReuseKeepsEvents feeds events that wait, in numbers that make
// the queue move its waiting events down and then reuse its slots: each
// event must come out with its own payload, in feed order.
func TestQueueReuseKeepsEvents(t *testing.T) {
	const wait = 1_000_000
	var got []uint64
	c := stacks.NewCorrelator(stacks.Options{Wait: wait, Emit: func(ev *etw.Event, _ stacks.StackID) {
		got = append(got, binary.LittleEndian.Uint64(ev.Payload[16:]))
	}})
	var want []uint64
	feed := func(from, to int64) {
		for ts := from; ts <= to; ts++ {
			ev := poolEvent(ts, 42, 7)
			binary.LittleEndian.PutUint64(ev.Payload[16:], uint64(ts))
			want = append(want, uint64(ts))
			c.Event(ev) // no stack: it waits until its deadline
		}
	}
	feed(1, 3000)
	c.Advance(2000 + wait) // the first 2000 are due; the other 1000 move down
	require.Len(t, got, 2000)
	assert.Equal(t, 1000, c.Stats().Pending)
	feed(3001, 5000) // into the slots the 1000 were moved from, and more
	assert.Len(t, got, 2000)
	c.Finish()
	assert.Equal(t, want, got)
	assert.Equal(t, 3000, c.Stats().MaxPending)
}

// TestCrowdedQueue feeds pool events that never get a stack, all at one
// timestamp, as a crafted trace can: the time never reaches their
// deadline, so without a bound every event would wait to the end. The
// queue stays at its bound, the oldest events go out in feed order, and a
// stack record for a recent event is still found.
func TestCrowdedQueue(t *testing.T) {
	const n = 300_000
	var out []emitted
	c := newTestCorrelator(&out)
	for i := range n {
		c.Event(poolEvent(1000, 42, etw.TID(i%50_000)))
	}
	st := c.Stats()
	assert.LessOrEqual(t, st.MaxPending, 1<<18+1)
	assert.Equal(t, int64(n-(1<<18)), st.Crowded)
	assert.Len(t, out, n-(1<<18))
	c.Event(stackEvent(1001, 1000, 42, 49_999, k1, u1)) // the latest event of thread 49,999
	assert.Equal(t, int64(1), c.Stats().Attached)
	c.Finish()
	require.Len(t, out, n)
	assert.Equal(t, int64(n), c.Stats().Emitted)
}
