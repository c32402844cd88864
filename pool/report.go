package pool

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Report is the result of a ledger pass. Its JSON form (fields trace,
// totals, anomalies, tags, stacks) is the stable -json schema of poolleak;
// the fields marked `json:"-"` are extra analysis that is not part of it.
type Report struct {
	// Trace describes the trace. The ledger fills Start, End, DurationS and
	// PoolEvents; the caller fills File, Events, EventsLost and BuffersLost.
	Trace TraceInfo `json:"trace"`
	// Totals sums Tags.
	Totals Totals `json:"totals"`
	// Anomalies counts damage found while matching.
	Anomalies Anomalies `json:"anomalies"`
	// Tags has one entry per (tag, pool kind) seen, sorted by outstanding
	// bytes (descending), then tag, then pool kind.
	Tags []TagStats `json:"tags"`
	// Stacks has one entry per (tag, pool kind, stack, caller's key) with
	// outstanding blocks, sorted by outstanding bytes (descending), then
	// tag, pool kind, stack ID and key. Allocations without a stack form one entry with no frames.
	Stacks []StackStats `json:"stacks"`

	// Processes aggregates by allocating process, sorted by outstanding bytes
	// (descending), then pid.
	Processes []ProcessStats `json:"-"`
	// Groups has one entry per (tag, pool kind, allocating process, stack,
	// key) that allocated in the trace, freed or not, in no particular
	// order: the input of a heap profile (see package export).
	Groups []GroupStats `json:"-"`
	// Windows has one entry per declared window ([Options.Windows]), in order.
	Windows []WindowReport `json:"-"`
	// Frequency is the tick rate, Start and End the first and last tick of
	// the trace (End is the time of the last op).
	Frequency, Start, End int64 `json:"-"`
	// BinTicks is the effective bin width of the series (the resolution,
	// doubled as often as [Options.MaxBins] and [Options.MaxCells] required,
	// and multiplied again when the tags times the bins would exceed
	// [MaxSeriesValues]). Its multiples from Start are bin boundaries for
	// [Ledger.Window].
	BinTicks int64 `json:"-"`
}

// TraceInfo is the "trace" object of the report.
type TraceInfo struct {
	File string `json:"file"` // trace file name (caller)
	// Start and End are the wall times of the first and last tick (set when
	// [Options.WallClock] is given; otherwise the caller may fill them).
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	DurationS float64   `json:"duration_s"` // seconds from Start to the last op
	Events    uint64    `json:"events"`     // all events in the trace (caller)
	// PoolEvents counts the alloc and free ops applied.
	PoolEvents  uint64 `json:"pool_events"`
	EventsLost  uint64 `json:"events_lost"`  // EventsLost of the trace (caller)
	BuffersLost uint64 `json:"buffers_lost"` // BuffersLost of the trace (caller)
}

// Totals sums the per-tag counters. For the whole trace:
// Allocs = AIFI + AIFO + AllocOverOpenBlock, Frees = AIFI + AOFI, AOFO = 0,
// OutstandingCount = AIFO.
type Totals struct {
	// The fields are the sums of the [TagStats] fields of the same name.
	Allocs           uint64 `json:"allocs"`
	Frees            uint64 `json:"frees"`
	AIFI             uint64 `json:"aifi"`
	AIFO             uint64 `json:"aifo"`
	AOFI             uint64 `json:"aofi"`
	AOFO             uint64 `json:"aofo"`
	OutstandingCount uint64 `json:"outstanding_count"`
	OutstandingBytes uint64 `json:"outstanding_bytes"`
	BytesAllocated   uint64 `json:"bytes_allocated"`
	BytesFreed       uint64 `json:"bytes_freed"`
}

// Anomalies counts input damage. None of it is an error.
type Anomalies struct {
	// FreeWithoutAlloc counts frees with no open block at their address
	// (allocated before the trace, or the alloc was lost). They are AOFI.
	FreeWithoutAlloc uint64 `json:"free_without_alloc"`
	// AllocOverOpenBlock counts allocs at an address holding an open block.
	// The old block is closed as freed at an unknown time (its free was lost)
	// and is neither freed nor outstanding.
	AllocOverOpenBlock uint64 `json:"alloc_over_open_block"`
	// OutOfOrder counts ops earlier than the previous op (or than
	// [Options.Start]); they were applied at the previous op's time.
	OutOfOrder uint64 `json:"out_of_order"`
	// TagMismatch counts frees matched to a block with a different tag (the
	// free is still matched; the block's tag wins).
	TagMismatch uint64 `json:"tag_mismatch"`
	// UnknownStack counts allocs whose StackID was not interned by this
	// ledger (treated as NoStack).
	UnknownStack uint64 `json:"unknown_stack"`
	// TruncatedStacks counts stacks cut to [MaxStackFrames].
	TruncatedStacks uint64 `json:"truncated_stacks"`
	// InvalidOps counts ops with neither Alloc nor Free kind (ignored).
	InvalidOps uint64 `json:"invalid_ops"`
}

// TagStats aggregates one (tag, pool kind). The first thirteen fields are the
// poolleak schema; the others are additions.
type TagStats struct {
	// Tag and Pool identify the entry. Allocs and Frees count events (frees
	// include frees without an open block); the four classes are those of
	// the whole trace or window; Outstanding* are the blocks still open.
	Tag              Tag    `json:"tag"`
	Pool             Kind   `json:"pool"`
	Allocs           uint64 `json:"allocs"`
	Frees            uint64 `json:"frees"`
	AIFI             uint64 `json:"aifi"`
	AIFO             uint64 `json:"aifo"`
	AOFI             uint64 `json:"aofi"`
	AOFO             uint64 `json:"aofo"`
	OutstandingCount uint64 `json:"outstanding_count"`
	OutstandingBytes uint64 `json:"outstanding_bytes"`
	// GrowthBytesPerS is the least-squares slope of Series over time.
	GrowthBytesPerS float64 `json:"growth_bytes_per_s"`
	// GrowthR2 is the coefficient of determination of that fit, in [0, 1].
	GrowthR2 float64 `json:"growth_r2"`
	// LeakRank is 1 for the most suspicious tag (see [LeakScore]).
	LeakRank int `json:"leak_rank"`

	// LeakScore is the score LeakRank sorts by (see [LeakScore]).
	LeakScore float64 `json:"leak_score"`
	// BytesAllocated and BytesFreed sum the sizes of allocs and frees (a
	// matched free counts its block's size, an unmatched one its own Size);
	// BigPoolAllocs counts allocs with the big-pool bit; the last two are the
	// tag's share of [Anomalies].
	BytesAllocated     uint64 `json:"bytes_allocated"`
	BytesFreed         uint64 `json:"bytes_freed"`
	BigPoolAllocs      uint64 `json:"big_pool_allocs"`
	FreeWithoutAlloc   uint64 `json:"free_without_alloc"`
	AllocOverOpenBlock uint64 `json:"alloc_over_open_block"`
	// Series holds the outstanding bytes at the end of each bin (bin i ends
	// at Start + (i+1)*BinTicks); in window reports, the bins that overlap
	// the window.
	Series []int64 `json:"-"`
}

// StackStats is the outstanding memory of one (tag, pool kind, stack).
type StackStats struct {
	Tag              Tag    `json:"tag"`
	Pool             Kind   `json:"pool"`
	OutstandingCount uint64 `json:"outstanding_count"`
	OutstandingBytes uint64 `json:"outstanding_bytes"`
	// Frames are innermost first. The ledger fills Addr; a symbolizer may
	// fill Name.
	Frames []Frame `json:"frames"`
	// Segments counts frames per stack segment.
	Segments Segments `json:"segments"`
	// Stack is the interned ID (NoStack for allocations without a stack).
	Stack StackID `json:"-"`
	// Key is the caller's stack key of the allocations ([Op.Key]).
	Key uint64 `json:"-"`
	// PID is the process the stack identity is keyed by (0 for kernel-only
	// stacks; see [Ledger.InternStack]).
	PID uint32 `json:"-"`
	// Allocs counts all allocations from this stack, freed or not.
	Allocs uint64 `json:"-"`
}

// Frame is one stack frame. It marshals to JSON as Name when set, else as the
// address in hex ("0xfffff8012345abcd").
type Frame struct {
	Addr uint64 // frame address as logged
	Name string // symbol text, filled by a symbolizer; empty if unknown
}

// String returns Name, or the hex address when Name is empty.
func (f Frame) String() string {
	if f.Name != "" {
		return f.Name
	}
	return fmt.Sprintf("0x%x", f.Addr)
}

// MarshalJSON implements [json.Marshaler] as a string (see [Frame]).
func (f Frame) MarshalJSON() ([]byte, error) { return json.Marshal(f.String()) }

// Segments counts a stack's frames by segment. The ledger splits by address
// only (kernel addresses vs the rest, see [Options.PointerSize]) and so
// counts WOW64 frames as User; a stack resolver that knows the modules can
// move them to WOW64.
type Segments struct {
	// Kernel, User and WOW64 count frames in each segment.
	Kernel int `json:"kernel"`
	User   int `json:"user"`
	WOW64  int `json:"wow64"`
}

// GroupStats aggregates the blocks allocated with one (tag, pool kind,
// allocating process, stack, key), freed or not: what a heap profile needs for
// its alloc_* and inuse_* values. Frees of blocks the trace never saw
// allocated are not in any group.
type GroupStats struct {
	Tag              Tag
	Pool             Kind
	PID              uint32
	Stack            StackID
	Key              uint64 // the caller's stack key ([Op.Key])
	Allocs           uint64
	Frees            uint64
	BytesAllocated   uint64
	BytesFreed       uint64
	OutstandingCount uint64
	OutstandingBytes uint64
}

// ProcessStats aggregates blocks by allocating process. Frees of blocks the
// trace never saw allocated are not attributed to any process.
type ProcessStats struct {
	// PID is the allocating process; the counters are those of [TagStats]
	// summed over the blocks it allocated.
	PID              uint32
	Allocs           uint64
	Frees            uint64
	BytesAllocated   uint64
	BytesFreed       uint64
	OutstandingCount uint64
	OutstandingBytes uint64
}

// WindowReport classifies the blocks of one window [Window.Start,
// Window.End): AIFI allocated and freed inside, AIFO allocated inside and
// outstanding at End, AOFI allocated before Start (or before the trace) and
// freed inside, AOFO allocated (in the trace) before Start and outstanding
// at End. Blocks closed by [Anomalies.AllocOverOpenBlock] are not classified.
// In Tags, Allocs and Frees count events inside the window, Outstanding* is
// AIFO+AOFO, the *Bytes counters of Totals are bytes of the classified blocks,
// Series is the part of the trace's series (see [Report.Tags]) whose bins
// overlap the window, and the growth fields and LeakRank are computed from
// it as for the whole trace ([LeakScore]), ranked among the window's tags.
// Tags without any event or block counted in the window are omitted.
type WindowReport struct {
	Window Window // the window classified
	// Exact is "ticks" for a declared window, "bins" for one computed from
	// the lifetime histogram at bin boundaries.
	Exact  string
	Totals Totals // sums over Tags
	// ClassBytes gives the bytes of each class.
	ClassBytes ClassBytes
	Tags       []TagStats // per (tag, pool kind), sorted like [Report.Tags]
}

// ClassBytes are the byte totals of the four window classes.
type ClassBytes struct {
	// AIFI, AIFO, AOFI and AOFO are bytes of the blocks in each class.
	AIFI, AIFO, AOFI, AOFO uint64
}

// Finish returns the report of everything applied so far. It does not
// change the ledger: Apply may continue and Finish may be called again
// (a live session can take periodic snapshots).
func (l *Ledger) Finish() *Report {
	r := &Report{Frequency: l.freq, Start: l.start, End: l.last}
	r.Trace.PoolEvents = l.poolEvents
	if l.started {
		r.Trace.DurationS = float64(uint64(l.last)-uint64(l.start)) / float64(l.freq)
	}
	if l.wallTime != nil && l.started {
		r.Trace.Start = l.wallTime(l.start)
		r.Trace.End = l.wallTime(l.last)
	}
	r.Anomalies = l.anom
	r.Anomalies.TruncatedStacks = l.stacks.truncated

	tags := make([]TagStats, len(l.tks))
	for i := range l.tks {
		s := &l.tks[i]
		tags[i] = TagStats{Tag: s.tag, Pool: s.kind, BigPoolAllocs: s.bigPool,
			Frees: s.unmatched, AOFI: s.unmatched, FreeWithoutAlloc: s.unmatched, BytesFreed: s.unmBytes}
	}
	type stackKey struct {
		tk    uint32
		stack StackID
		key   uint64
	}
	stackIdx := map[stackKey]int{}
	procIdx := map[uint32]int{}
	for i := range l.groups {
		g := &l.groups[i]
		t := &tags[g.tk]
		t.Allocs += g.allocs
		frees := g.frees()
		t.Frees += frees
		t.AIFI += frees
		t.AIFO += g.outN
		t.OutstandingCount += g.outN
		t.OutstandingBytes += g.outBytes
		t.BytesAllocated += g.bytesA
		t.BytesFreed += g.bytesF
		t.AllocOverOpenBlock += g.replaced

		j, ok := procIdx[g.pid]
		if !ok {
			j = len(r.Processes)
			procIdx[g.pid] = j
			r.Processes = append(r.Processes, ProcessStats{PID: g.pid})
		}
		p := &r.Processes[j]
		p.Allocs += g.allocs
		p.Frees += frees
		p.BytesAllocated += g.bytesA
		p.BytesFreed += g.bytesF
		p.OutstandingCount += g.outN
		p.OutstandingBytes += g.outBytes

		r.Groups = append(r.Groups, GroupStats{Tag: t.Tag, Pool: t.Pool, PID: g.pid, Stack: g.stack, Key: g.key,
			Allocs: g.allocs, Frees: frees, BytesAllocated: g.bytesA, BytesFreed: g.bytesF,
			OutstandingCount: g.outN, OutstandingBytes: g.outBytes})

		if g.outN == 0 {
			continue
		}
		sk := stackKey{g.tk, g.stack, g.key}
		j, ok = stackIdx[sk]
		if !ok {
			j = len(r.Stacks)
			stackIdx[sk] = j
			r.Stacks = append(r.Stacks, l.stackStats(g.tk, g.stack))
			r.Stacks[j].Key = g.key
		}
		st := &r.Stacks[j]
		st.OutstandingCount += g.outN
		st.OutstandingBytes += g.outBytes
		st.Allocs += g.allocs
	}
	if r.Stacks == nil {
		r.Stacks = []StackStats{}
	}

	r.BinTicks = int64(min(l.series(tags), 1<<62))
	rankTags(tags, float64(r.BinTicks)/float64(l.freq))

	for i := range tags {
		t := &tags[i]
		r.Totals.Allocs += t.Allocs
		r.Totals.Frees += t.Frees
		r.Totals.AIFI += t.AIFI
		r.Totals.AIFO += t.AIFO
		r.Totals.AOFI += t.AOFI
		r.Totals.AOFO += t.AOFO
		r.Totals.OutstandingCount += t.OutstandingCount
		r.Totals.OutstandingBytes += t.OutstandingBytes
		r.Totals.BytesAllocated += t.BytesAllocated
		r.Totals.BytesFreed += t.BytesFreed
	}
	sortTags(tags)
	r.Tags = tags
	slices.SortFunc(r.Stacks, func(a, b StackStats) int {
		return cmp.Or(cmp.Compare(b.OutstandingBytes, a.OutstandingBytes), cmp.Compare(a.Tag.String(), b.Tag.String()),
			cmp.Compare(a.Pool, b.Pool), cmp.Compare(a.Stack, b.Stack), cmp.Compare(a.Key, b.Key))
	})
	slices.SortFunc(r.Processes, func(a, b ProcessStats) int {
		return cmp.Or(cmp.Compare(b.OutstandingBytes, a.OutstandingBytes), cmp.Compare(a.PID, b.PID))
	})
	for i, w := range l.windows {
		r.Windows = append(r.Windows, l.declaredWindow(i, w))
	}
	return r
}

// sortTags orders by outstanding bytes (descending), then tag text, then kind.
func sortTags(tags []TagStats) {
	slices.SortFunc(tags, func(a, b TagStats) int {
		return cmp.Or(cmp.Compare(b.OutstandingBytes, a.OutstandingBytes), cmp.Compare(a.Tag.String(), b.Tag.String()),
			cmp.Compare(a.Pool, b.Pool))
	})
}

func (l *Ledger) stackStats(tk uint32, id StackID) StackStats {
	s := StackStats{Tag: l.tks[tk].tag, Pool: l.tks[tk].kind, Stack: id, Frames: []Frame{}}
	pid, frames := l.stacks.get(id)
	s.PID = pid
	for _, f := range frames {
		s.Frames = append(s.Frames, Frame{Addr: f})
		if l.stacks.isKernel(f) {
			s.Segments.Kernel++
		} else {
			s.Segments.User++
		}
	}
	return s
}

// nbins is the number of bins from the trace start to the last op.
func (l *Ledger) nbins() int {
	if !l.started {
		return 0
	}
	return int(l.binOf(l.last)) + 1
}

// MaxSeriesValues bounds the values of all series in a report together
// (tags times bins, 64 MB). Beyond it the series merge adjacent bins.
const MaxSeriesValues = 1 << 23

// series fills each tag's Series from the lifetime histogram: bytes enter at
// their alloc bin and leave at their free (or replacement) bin. It returns
// the width of a series bin in ticks.
func (l *Ledger) series(tags []TagStats) uint64 {
	nb := l.nbins()
	if nb == 0 || len(tags) == 0 {
		return l.width
	}
	f := 1 // series bin = f histogram bins
	for len(tags)*((nb+f-1)/f) > MaxSeriesValues && f < nb {
		f *= 2
	}
	ns := (nb + f - 1) / f
	for i := range tags {
		tags[i].Series = make([]int64, ns)
	}
	for i, k := range l.cellKeys {
		c := &l.cellVals[i]
		s := tags[k.tk].Series
		b := int64(c.bytes)
		switch k.cls {
		case cOpen:
			s[int(k.a)/f] += b
		case cFreed, cReplaced:
			s[int(k.a)/f] += b
			s[int(k.f)/f] -= b
		}
	}
	for i := range tags {
		s := tags[i].Series
		for j := 1; j < len(s); j++ {
			s[j] += s[j-1]
		}
	}
	return l.width * uint64(f)
}
