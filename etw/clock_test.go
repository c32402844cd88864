package etw_test

import (
	"testing"
	"time"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFiletime(t *testing.T) {
	// 2020-02-17T12:48:30.4203138Z is the StartTime of the AMSITrace corpus
	// file, 132264173104203138.
	ft := int64(132264173104203138)
	tm := etw.FiletimeToTime(ft)
	assert.Equal(t, time.Date(2020, 2, 17, 12, 48, 30, 420313800, time.UTC), tm)
	assert.Equal(t, ft, etw.TimeToFiletime(tm))
	assert.True(t, etw.FiletimeToTime(0).IsZero())
	assert.Equal(t, int64(0), etw.TimeToFiletime(time.Time{}))
}

func TestClockKinds(t *testing.T) {
	start := int64(132264173104203138)
	qpc := etw.NewClock(&etw.LogfileHeader{ReservedFlags: 1, PerfFreq: 3_117_777, StartTime: start}, 1_000_000)
	assert.Equal(t, etw.FiletimeToTime(start), qpc.Time(1_000_000), "the anchor is the header event")
	assert.Equal(t, etw.FiletimeToTime(start).Add(time.Second), qpc.Time(1_000_000+3_117_777))
	assert.Equal(t, etw.FiletimeToTime(start).Add(-time.Second), qpc.Time(1_000_000-3_117_777))
	assert.Equal(t, 2*time.Second, qpc.Duration(2*3_117_777))
	assert.Equal(t, int64(3_117_777), qpc.Ticks(time.Second))

	sys := etw.NewClock(&etw.LogfileHeader{ReservedFlags: 2, PerfFreq: 10_000_000, StartTime: start}, start)
	assert.Equal(t, etw.FiletimeToTime(start+10_000_000), sys.Time(start+10_000_000), "system-time stamps are FILETIMEs")

	cyc := etw.NewClock(&etw.LogfileHeader{ReservedFlags: 3, CPUSpeedMHz: 3000, StartTime: start}, 5_000)
	assert.Equal(t, etw.FiletimeToTime(start).Add(time.Millisecond), cyc.Time(5_000+3_000_000))

	var none *etw.Clock
	assert.True(t, none.Time(1).IsZero())
	assert.Equal(t, etw.ClockType(1).String(), "QPC")
}

// TestCorpusClock: in every corpus trace the header event converts to the
// logfile header's StartTime (the clock's anchor).
func TestCorpusClock(t *testing.T) {
	for _, tr := range corpus.Traces(t) {
		r, err := etw.Open(tr.Path)
		require.NoError(t, err)
		h := r.Header()
		he := r.HeaderEvent()
		assert.Equal(t, etw.FiletimeToTime(h.StartTime), he.Time(), tr.Name)
		r.Close()
	}
}
