package leak

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var irpLeak = filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.etl")

func TestIrpLeak(t *testing.T) {
	res, err := Run(irpLeak, Options{})
	require.NoError(t, err)
	rep := res.Report
	require.NotEmpty(t, rep.Tags)
	top := rep.Tags[0]
	assert.Equal(t, "Irp ", top.Tag.String())
	assert.Equal(t, "nonpaged", top.Pool.String())
	assert.Equal(t, uint64(156), top.OutstandingCount)
	assert.Equal(t, uint64(159744), top.OutstandingBytes)
	assert.Equal(t, 1, top.LeakRank)
	assert.Equal(t, uint64(2312), rep.Totals.Allocs)
	assert.Equal(t, uint64(2156), rep.Totals.Frees)
	assert.Equal(t, uint64(1), rep.Anomalies.FreeWithoutAlloc)
	assert.Equal(t, uint64(2), rep.Trace.EventsLost)

	require.NotEmpty(t, res.Stacks)
	s := res.Stacks[0]
	assert.Equal(t, "Irp ", s.Tag)
	assert.Equal(t, uint64(156), s.OutstandingCount)
	assert.True(t, s.Transition, "the leak stack crosses WOW64")
	joined := strings.Join(s.Frames, "\n")
	for _, want := range []string{"ntoskrnl.exe+0x", "wow64cpu.dll+0x", "wow64.dll+0x", "KernelBase.dll+0x", "ReadLeak.exe+0x"} {
		assert.Contains(t, joined, want)
	}
	assert.NotZero(t, s.Segments.Kernel)
	assert.NotZero(t, s.Segments.User)
	assert.NotZero(t, s.Segments.WOW64)
	t.Logf("%+v\n%s", s.Segments, joined)
	t.Logf("stack stats %+v", res.StackStats)
}

func TestSummary(t *testing.T) {
	res, err := Run(irpLeak, Options{})
	require.NoError(t, err)
	s := res.Summary(1)
	assert.Len(t, s.Stacks, 1)
	assert.Equal(t, res.Report.Tags, s.Tags)
	assert.Len(t, res.Summary(-1).Stacks, len(res.Stacks))
	assert.NotNil(t, res.Summary(0).Stacks, "an empty list marshals as []")

	win, err := Run(irpLeak, Options{Window: [2]float64{0, 1}, HasWindow: true})
	require.NoError(t, err)
	require.NotNil(t, win.Window)
	assert.Equal(t, win.Window.Totals, win.Summary(-1).Totals, "a window's summary counts the window")
}

// TestRecordSize: a batch record stays 64 bytes, a cache line.
func TestRecordSize(t *testing.T) {
	assert.Equal(t, uintptr(64), unsafe.Sizeof(rec{}))
}

// TestSummaryDecodes: the -json object decodes back into a Summary, with
// the same JSON form.
func TestSummaryDecodes(t *testing.T) {
	res, err := Run(irpLeak, Options{})
	require.NoError(t, err)
	res.Report.Trace.File = "irp-leak.etl"
	first, err := json.Marshal(res.Summary(-1))
	require.NoError(t, err)
	var back Summary
	require.NoError(t, json.Unmarshal(first, &back))
	again, err := json.Marshal(&back)
	require.NoError(t, err)
	assert.JSONEq(t, string(first), string(again))
	require.NotEmpty(t, back.Tags)
	assert.Equal(t, "Irp ", back.Tags[0].Tag.String())
	assert.Equal(t, "irp-leak.etl", back.Trace.File)
}

// TestOpsRing checks the queue of decoded ops through growth at every
// position of the ring: ops come out in the order they went in.
func TestOpsRing(t *testing.T) {
	p, err := New(nil, 8, 0, Options{})
	require.NoError(t, err)
	in, out := int64(0), int64(0)
	for step := range 5000 {
		// Bursts of pushes larger than the pops, so the ring grows while
		// its head is anywhere.
		for range step % 7 {
			if p.fullOps() {
				p.growOps()
			}
			p.pushOp().Time = in
			in++
		}
		for range step % 5 {
			if in == out {
				break
			}
			require.Equal(t, out, p.popOp().Time)
			out++
		}
	}
	for out < in {
		require.Equal(t, out, p.popOp().Time)
		out++
	}
	require.Greater(t, len(p.ops), minOps, "the ring never grew")
}
