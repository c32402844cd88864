package etw

import (
	"math/bits"
	"time"
)

// ClockType is the timestamp clock of a session (EVENT_TRACE_CLOCK_*), the
// ReservedFlags field of the logfile header.
type ClockType uint32

// Clock types.
const (
	ClockRaw         ClockType = 0 // EVENT_TRACE_CLOCK_RAW
	ClockPerfCounter ClockType = 1 // EVENT_TRACE_CLOCK_PERFCOUNTER (QPC), the default
	ClockSystemTime  ClockType = 2 // EVENT_TRACE_CLOCK_SYSTEMTIME (100 ns units)
	ClockCPUCycle    ClockType = 3 // EVENT_TRACE_CLOCK_CPUCYCLE
)

// String returns the clock's name.
func (c ClockType) String() string {
	switch c {
	case ClockRaw:
		return "raw"
	case ClockPerfCounter:
		return "QPC"
	case ClockSystemTime:
		return "system time"
	case ClockCPUCycle:
		return "CPU cycles"
	}
	return "ClockType(" + itoa(uint64(c)) + ")"
}

// filetimeUnixOffset is the FILETIME of 1970-01-01 in 100 ns ticks.
const filetimeUnixOffset = 116444736000000000

// FiletimeToTime converts a FILETIME (100 ns ticks since 1601-01-01 UTC)
// to a UTC time.Time. Zero converts to the zero time.
func FiletimeToTime(ft int64) time.Time {
	if ft == 0 {
		return time.Time{}
	}
	d := ft - filetimeUnixOffset
	return time.Unix(d/1e7, (d%1e7)*100).UTC()
}

// TimeToFiletime converts t to a FILETIME, the inverse of [FiletimeToTime].
func TimeToFiletime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()*1e7 + int64(t.Nanosecond())/100 + filetimeUnixOffset
}

// Clock converts raw event timestamps of one trace to wall time. Its anchor
// is the pair (StartTime, the logfile header event's own timestamp), and its
// frequency follows the clock type: PerfFreq for QPC, 10 MHz for system time
// and CpuSpeedInMHz for CPU cycles (unverified on real traces).
type Clock struct {
	Type      ClockType
	Frequency int64 // ticks per second; 0 means unknown
	BaseTicks int64 // raw timestamp of the anchor
	BaseTime  int64 // FILETIME of the anchor
}

// NewClock returns the clock described by a logfile header and the raw
// timestamp of the header event.
func NewClock(h *LogfileHeader, headerTimestamp int64) *Clock {
	c := &Clock{Type: ClockType(h.ReservedFlags), BaseTicks: headerTimestamp, BaseTime: h.StartTime}
	switch c.Type {
	case ClockSystemTime:
		c.Frequency = 1e7
	case ClockCPUCycle:
		c.Frequency = int64(h.CPUSpeedMHz) * 1e6
	default:
		c.Frequency = h.PerfFreq
	}
	if c.Type == ClockSystemTime {
		// System-time stamps are FILETIMEs themselves.
		c.BaseTicks, c.BaseTime = 0, 0
	}
	return c
}

// Filetime converts a raw timestamp to a FILETIME (100 ns ticks since 1601).
func (c *Clock) Filetime(ts int64) int64 {
	if c == nil || c.Frequency <= 0 {
		return 0
	}
	return c.BaseTime + scale(ts-c.BaseTicks, 1e7, c.Frequency)
}

// Time converts a raw timestamp to wall time in UTC.
func (c *Clock) Time(ts int64) time.Time {
	ft := c.Filetime(ts)
	if ft == 0 {
		return time.Time{}
	}
	return FiletimeToTime(ft)
}

// Duration converts a difference of raw timestamps to a time.Duration.
func (c *Clock) Duration(ticks int64) time.Duration {
	if c == nil || c.Frequency <= 0 {
		return 0
	}
	return time.Duration(scale(ticks, 1e9, c.Frequency))
}

// Ticks converts a duration to raw ticks of this clock.
func (c *Clock) Ticks(d time.Duration) int64 {
	if c == nil || c.Frequency <= 0 {
		return 0
	}
	return scale(int64(d), c.Frequency, 1e9)
}

// scale returns v*mul/div without intermediate overflow, rounding toward
// negative infinity.
func scale(v, mul, div int64) int64 {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	hi, lo := bits.Mul64(u, uint64(mul))
	if hi >= uint64(div) {
		// Result does not fit; saturate.
		if neg {
			return -1 << 63
		}
		return 1<<63 - 1
	}
	q, r := bits.Div64(hi, lo, uint64(div))
	if neg {
		if r != 0 {
			q++
		}
		return -int64(q)
	}
	return int64(q)
}
