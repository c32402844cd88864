package leak

import (
	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/pool"
)

// Summary is the object `poolleak -json` prints, the stable schema the
// README documents: its field names and JSON keys are a contract that
// other tools parse. Fields may be added; none is renamed or removed.
type Summary struct {
	// Verdict is the leaking tag and who allocates it; null when nothing
	// leaks.
	Verdict *Verdict `json:"verdict"`
	// Trace describes the trace and how much of it was read; Trace.File is
	// the caller's to fill (in the result's Report.Trace).
	Trace Trace `json:"trace"`
	// Totals sums Tags.
	Totals pool.Totals `json:"totals"`
	// Anomalies counts the damage found while matching frees to allocs.
	Anomalies pool.Anomalies `json:"anomalies"`
	// Tags has one entry per (tag, pool kind), by outstanding bytes.
	Tags []pool.TagStats `json:"tags"`
	// Stacks are the top outstanding stacks, by outstanding bytes.
	Stacks []Stack `json:"stacks"`
}

// Trace is the "trace" object of the -json contract: the ledger's facts
// about the trace (File, Start, End, DurationS, Events, PoolEvents,
// EventsLost, BuffersLost), then how much of it was read (Complete,
// BuffersRead, BuffersWritten, ReadErrors), in one flat JSON object.
type Trace struct {
	pool.TraceInfo
	etw.ReadReport
	// PoolEventsWithoutProcess is Result.PoolEventsWithoutProcess; the key
	// is left out when it is 0.
	PoolEventsWithoutProcess int64 `json:"pool_events_without_process,omitempty"`
}

// Summary returns the -json object of the result: the tags and totals of
// the window when Options.Window was given (else of the whole trace) and
// the first top stacks (all of them when top is negative). Slices are
// never nil, so that they marshal as [] rather than null. The Summary
// shares the result's values.
func (res *Result) Summary(top int) *Summary {
	rep := res.Report
	s := &Summary{Verdict: res.Verdict, Trace: Trace{rep.Trace, res.Damage, res.PoolEventsWithoutProcess}, Totals: rep.Totals, Anomalies: rep.Anomalies, Tags: rep.Tags, Stacks: res.Stacks}
	if res.Window != nil {
		s.Tags, s.Totals = res.Window.Tags, res.Window.Totals
	}
	if s.Tags == nil {
		s.Tags = []pool.TagStats{}
	}
	if top >= 0 && len(s.Stacks) > top {
		s.Stacks = s.Stacks[:top]
	}
	if s.Stacks == nil {
		s.Stacks = []Stack{}
	}
	return s
}
