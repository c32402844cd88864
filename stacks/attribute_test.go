package stacks_test

import (
	"encoding/binary"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// perfInfoPool is a pool event in a PERFINFO header: no process, no
// thread.
func perfInfoPool(ts int64, cpu uint16) *etw.Event {
	ev := poolEvent(ts, etw.NoPID, etw.NoTID)
	ev.Header, ev.Processor = etw.HeaderPerfInfo64, cpu
	return ev
}

// sampledProfile is a SampledProfile event (PERFINFO header) naming its
// thread in its payload.
func sampledProfile(ts int64, cpu uint16, tid etw.TID) *etw.Event {
	p := make([]byte, 16)
	binary.LittleEndian.PutUint64(p, u1)
	binary.LittleEndian.PutUint32(p[8:], uint32(tid))
	return &etw.Event{Header: etw.HeaderPerfInfo64, Hook: 0x0F2E, Provider: etw.PerfInfoGUID, Opcode: 46, Version: 2,
		PID: etw.NoPID, TID: etw.NoTID, Timestamp: ts, Processor: cpu, Payload: p}
}

// threadStart is a Thread Start (version 0) of tid in pid.
func threadStart(ts int64, pid etw.PID, tid etw.TID) *etw.Event {
	p := make([]byte, 8)
	binary.LittleEndian.PutUint32(p, uint32(tid))
	binary.LittleEndian.PutUint32(p[4:], uint32(pid))
	return &etw.Event{Header: etw.HeaderSystem64, Hook: 0x0501, Provider: etw.ThreadGUID, Opcode: 1, Version: 0,
		PID: pid, TID: tid, Timestamp: ts, Payload: p}
}

// onCPU sets the processor of ev.
func onCPU(ev *etw.Event, cpu uint16) *etw.Event {
	ev.Processor = cpu
	return ev
}

type attributed struct {
	ts int64
	id stacks.StackID
	a  stacks.Attribution
}

func attributingCorrelator(out *[]attributed, want func(*etw.Event) bool, opts stacks.Options) *stacks.Correlator {
	var c *stacks.Correlator
	opts.PointerSize, opts.Wait, opts.Want = 8, 1000, want
	opts.Emit = func(ev *etw.Event, id stacks.StackID) {
		*out = append(*out, attributed{ev.Timestamp, id, c.Attributed()})
	}
	c = stacks.NewCorrelator(opts)
	return c
}

// A pool event without process or thread in its header is matched to its
// stack records by timestamp and processor, and takes its process and
// thread from them; the stack's user frames then belong to that process.
func TestPerfInfoEventTakesProcessFromStack(t *testing.T) {
	var out []attributed
	c := attributingCorrelator(&out, func(ev *etw.Event) bool { return ev.Provider == etw.PoolGUID }, stacks.Options{})
	c.Event(perfInfoPool(100, 2))
	c.Event(perfInfoPool(100, 3)) // same time, other processor
	c.Event(onCPU(stackEvent(101, 100, 42, 7, k1, k2), 3))
	c.Event(onCPU(stackEvent(102, 100, 42, 7, u1), 3))
	c.Event(onCPU(stackEvent(103, 100, 50, 9, k2), 2))
	c.Event(onCPU(stackEvent(104, 100, 50, 9, u2), 2))
	c.Finish()
	require.Len(t, out, 2)
	assert.Equal(t, stacks.Attribution{PID: 50, TID: 9, PIDFrom: stacks.SourceStack, TIDFrom: stacks.SourceStack}, out[0].a)
	assert.Equal(t, stacks.Attribution{PID: 42, TID: 7, PIDFrom: stacks.SourceStack, TIDFrom: stacks.SourceStack}, out[1].a)
	s0, s1 := c.Stack(out[0].id), c.Stack(out[1].id)
	assert.Equal(t, []uint64{k2, u2}, s0.Frames())
	assert.Equal(t, etw.PID(50), s0.PID)
	assert.Equal(t, []uint64{k1, k2, u1}, s1.Frames())
	assert.Equal(t, etw.PID(42), s1.PID)
	st := c.Stats()
	assert.Equal(t, int64(2), st.ProcessFromStack)
	assert.Zero(t, st.Unattached)
}

// An event whose thread comes from its payload and that has no stack gets
// its process from the thread table; without one it is counted as
// unattributed, not given a process.
func TestPayloadThreadAndThreadTable(t *testing.T) {
	mods := stacks.NewModules(8)
	mods.Event(threadStart(10, 300, 77))
	pid, ok := mods.ProcessOf(77, 50)
	require.True(t, ok)
	assert.Equal(t, etw.PID(300), pid)
	_, ok = mods.ProcessOf(77, 5)
	assert.False(t, ok, "before the thread started")
	mods.Event(threadStart(60, 301, 77)) // the ID is reused
	pid, _ = mods.ProcessOf(77, 70)
	assert.Equal(t, etw.PID(301), pid)
	pid, _ = mods.ProcessOf(77, 50)
	assert.Equal(t, etw.PID(300), pid)

	var out []attributed
	c := attributingCorrelator(&out, func(ev *etw.Event) bool { return ev.Hook == 0x0F2E }, stacks.Options{ProcessOf: mods.ProcessOf})
	c.Event(sampledProfile(50, 0, 77))
	c.Event(sampledProfile(51, 1, 78)) // a thread nobody started
	c.Event(sampledProfile(52, 1, 77))
	c.Event(onCPU(stackEvent(53, 52, 301, 77, k1), 1))
	c.Finish()
	require.Len(t, out, 3)
	assert.Equal(t, stacks.Attribution{PID: 300, TID: 77, PIDFrom: stacks.SourceThreads, TIDFrom: stacks.SourcePayload}, out[0].a)
	assert.Equal(t, stacks.Attribution{PID: etw.NoPID, TID: 78, TIDFrom: stacks.SourcePayload}, out[1].a)
	assert.Equal(t, stacks.Attribution{PID: 301, TID: 77, PIDFrom: stacks.SourceStack, TIDFrom: stacks.SourcePayload}, out[2].a)
	st := c.Stats()
	assert.Equal(t, int64(1), st.ProcessFromThreads)
	assert.Equal(t, int64(1), st.ProcessUnknown)
	assert.Equal(t, int64(1), st.ProcessFromStack)
}

// xperf's KernelTraceControl records share the timestamp and thread of
// the Image event they describe; the stack walk belongs to the Image
// event, whichever comes first.
func TestStackPrefersClassicKernelEvent(t *testing.T) {
	image := &etw.Event{Header: etw.HeaderSystem64, Hook: etw.HookImageLoad, Provider: etw.ProcessGUID, Opcode: 10, Version: 3,
		PID: 42, TID: 7, Timestamp: 100}
	ktc := &etw.Event{Header: etw.HeaderFull64, Provider: etw.KernelTraceControlGUID, Opcode: 0, Version: 2,
		PID: 42, TID: 7, Timestamp: 100}
	var out []attributed
	var kinds []etw.GUID
	c := attributingCorrelator(&out, func(ev *etw.Event) bool { kinds = append(kinds, ev.Provider); return true }, stacks.Options{})
	c.Event(ktc)
	c.Event(image)
	c.Event(stackEvent(101, 100, 42, 7, k1))
	c.Event(stackEvent(102, 100, 42, 7, u1))
	c.Finish()
	require.Len(t, out, 2)
	assert.Equal(t, stacks.NoStack, out[0].id, "the KernelTraceControl record")
	assert.NotEqual(t, stacks.NoStack, out[1].id, "the Image event")
}

// With a Lookahead from a first pass, a key reference resolves when it is
// emitted although its definition comes at the end, and an event waits
// for a user fragment that the first pass saw come later than the wait.
func TestLookahead(t *testing.T) {
	stream := []*etw.Event{
		poolEvent(100, 42, 7),
		keyRefEvent(101, 100, 42, 7, true, 0x40),
		keyRefEvent(5000, 100, 42, 7, false, 0x80), // 4900 ticks later; the wait is 1000
		poolEvent(6000, 42, 8),
		keyRefEvent(6001, 6000, 42, 8, true, 0x40),
		keyDefEvent(6002, 35, 0x40, k1, k2), // KeyDelete: the references so far
		poolEvent(7000, 42, 8),
		keyRefEvent(7001, 7000, 42, 8, true, 0x40), // a new generation of 0x40
		keyDefEvent(9000, 36, 0x80, u1),
		keyDefEvent(9001, 36, 0x40, k2),
	}
	ahead := stacks.NewLookahead(1000, 8)
	for _, ev := range stream {
		ahead.Event(ev)
	}
	assert.Equal(t, 3, ahead.Definitions())
	assert.Equal(t, 1, ahead.LateFragments())

	var got [][]uint64
	var c *stacks.Correlator
	c = stacks.NewCorrelator(stacks.Options{PointerSize: 8, Wait: 1000, Lookahead: ahead,
		Want: func(ev *etw.Event) bool { return ev.Provider == etw.PoolGUID },
		Emit: func(ev *etw.Event, id stacks.StackID) {
			s := c.Stack(id) // resolved at emit time
			assert.False(t, s.Unresolved, "event at %d", ev.Timestamp)
			got = append(got, s.Frames())
		}})
	for _, ev := range stream {
		c.Event(ev)
	}
	c.Finish()
	assert.Equal(t, [][]uint64{{k1, k2, u1}, {k1, k2}, {k2}}, got)
}

// An Image event in a PERFINFO header names its process in its payload.
func TestProcessFromPayload(t *testing.T) {
	rec := etltest.Image(8, etltest.ImageEvent{Meta: etltest.Meta{Kind: etltest.HeaderPerfInfo, Timestamp: 100},
		Opcode: etltest.ImageDCStart, Base: 0x7ff800000000, Size: 0x1000, ProcessID: 321, FileName: `\Windows\System32\ntdll.dll`})
	image := &etw.Event{Header: etw.HeaderPerfInfo64, Hook: 0x1403, Provider: etw.ImageGUID, Opcode: 3, Version: 3,
		PID: etw.NoPID, TID: etw.NoTID, Timestamp: 100, Payload: rec[16:]}
	var out []attributed
	c := attributingCorrelator(&out, func(*etw.Event) bool { return true }, stacks.Options{})
	c.Event(image)
	c.Finish()
	require.Len(t, out, 1)
	assert.Equal(t, stacks.Attribution{PID: 321, TID: etw.NoTID, PIDFrom: stacks.SourcePayload}, out[0].a)
	assert.Equal(t, int64(1), c.Stats().ProcessFromPayload)
}

// A stack record of a known thread goes to the event of that thread, not
// to an event of unknown thread logged at the same time on the same
// processor before it.
func TestKnownThreadBeforeUnknown(t *testing.T) {
	var out []attributed
	c := attributingCorrelator(&out, func(ev *etw.Event) bool { return ev.Provider == etw.PoolGUID }, stacks.Options{})
	c.Event(perfInfoPool(100, 1))
	c.Event(onCPU(poolEvent(100, 42, 7), 1))
	c.Event(onCPU(stackEvent(101, 100, 42, 7, k1), 1))
	c.Event(onCPU(stackEvent(102, 100, 42, 7, u1), 1))
	c.Finish()
	require.Len(t, out, 2)
	assert.Equal(t, stacks.NoStack, out[0].id, "the PERFINFO event")
	assert.NotEqual(t, stacks.NoStack, out[1].id)
	assert.Equal(t, int64(1), c.Stats().ProcessUnknown)
}
