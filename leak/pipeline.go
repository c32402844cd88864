package leak

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/export"
	"github.com/etwkit/etwkit/internal/damage"
	"github.com/etwkit/etwkit/internal/leanframe"
	"github.com/etwkit/etwkit/internal/pooltag"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

// Options configure a pipeline.
type Options struct {
	// SymbolPath in _NT_SYMBOL_PATH syntax; empty: frames stay
	// module+offset and nothing is fetched.
	SymbolPath string
	// Logf receives warnings (symbol lookups); nil discards them.
	Logf func(format string, args ...any)
	// Window, when HasWindow, restricts the report to [Window[0], Window[1])
	// in seconds from the trace start: classes count the window, and
	// outstanding means outstanding at its end.
	Window    [2]float64
	HasWindow bool
	// Tag keeps only this pool tag, as people type it (see
	// pool.ParseTag: "Irp" is "Irp "). Text that is no tag (longer than four
	// bytes) matches nothing; Result.TagFound and Result.OtherTags then say
	// what the trace holds.
	Tag string
	// PID, when HasPID, keeps the blocks this process allocated, with their
	// frees by any process; other frees are left out (pool.Options.PID).
	PID    uint32
	HasPID bool
	// Resolution of the outstanding-bytes series; 0 means one second.
	Resolution time.Duration
	// FoldWOW64 replaces the 64-bit WOW64 layer of each stack by one
	// "[wow64 transition]" marker frame.
	FoldWOW64 bool
	// Progress, if set, is called now and then with the events read so far.
	Progress func(events int64)
	// Limits are the reader's resource limits (for Run; zero: etw's
	// defaults).
	Limits etw.Limits
	// PoolTags, when set, describes tags in the verdict (see package
	// pooltag).
	PoolTags *pooltag.Table
}

// Stack is one outstanding stack of the report, merged over identical
// resolved frames: an entry of the "stacks" list of the -json contract
// (the fields with JSON keys; the others are not part of it).
type Stack struct {
	// Tag ("Irp ", trailing spaces kept) and Pool ("nonpaged", ...) are
	// the allocations' pool tag and kind; the Outstanding counts are of
	// their blocks still open at the end of the trace or window.
	Tag              string `json:"tag"`
	Pool             string `json:"pool"`
	OutstandingCount uint64 `json:"outstanding_count"`
	OutstandingBytes uint64 `json:"outstanding_bytes"`
	// Frames are the frames' texts, innermost first ("module+0xoffset",
	// "module!symbol+0xoffset", markers in square brackets); Lines their
	// source lines ("file:line" or ""), one per frame.
	Frames []string `json:"frames"`
	// Segments counts the frames that are kernel, native user and WOW64
	// 32-bit.
	Segments stacks.Segments `json:"segments"`
	Lines    []string        `json:"lines"`

	// PID and Process are the process the stack was first seen in.
	PID     uint32 `json:"-"`
	Process string `json:"-"`
	// Resolved are the frames Frames and Lines were written from.
	Resolved []stacks.Frame `json:"-"`
	// Transition reports a stack that crosses from the 64-bit WOW64 layer
	// into 32-bit code.
	Transition bool `json:"-"`
	// Allocs counts all allocations of the stack, freed or not.
	Allocs uint64 `json:"-"`
}

// Result is the outcome of a pipeline run.
type Result struct {
	// Report is the ledger's report (its Stacks are raw; use Stacks).
	Report *pool.Report
	// Window is the classification of Options.Window, when one was given.
	Window *pool.WindowReport
	// Stacks are the outstanding stacks, resolved, by outstanding bytes.
	Stacks []Stack
	// Header and Clock describe the trace.
	Header *etw.LogfileHeader
	Clock  *etw.Clock
	// Modules and Processes as seen in the trace.
	Modules *stacks.Modules
	// Correlation statistics.
	StackStats stacks.Stats
	// ReadErrors are the damage reports of the reader (the run goes on).
	ReadErrors []error
	// PointerSize of the trace.
	PointerSize int
	// Samples are the allocation groups (tag, pool kind, process, stack),
	// freed or not, with resolved stacks: the input of package export.
	Samples []export.Sample
	// Verdict is the leaking tag and who allocates it; nil when nothing
	// leaks (see Verdict).
	Verdict *Verdict
	// Damage says how much of the trace was read (set by RunReader).
	Damage etw.ReadReport
	// PoolEventsWithoutProcess counts the pool events (of the tag and
	// window filters) whose header, stack records and thread named no
	// process: PERFINFO-headed PoolTrace records logged without stack
	// walks, by a thread no Thread event names. They are kept under the
	// process ID etw.NoPID, never given an invented one.
	PoolEventsWithoutProcess int64
	// TagFound reports, when Options.Tag is set, whether the trace has pool
	// events of that tag (whatever the other filters); OtherTags are the
	// tags of the other pool events, sorted by text, for naming the close
	// matches of a tag that was not found.
	TagFound  bool
	OtherTags []pool.Tag
}

// Pipeline is a push pipeline: feed events with Event, then Finish. It
// serves files (see Run) and live sessions alike.
type Pipeline struct {
	opts     Options
	ptr      int
	clock    *etw.Clock
	mods     *stacks.Modules
	methods  *stacks.Methods
	corr     *stacks.Correlator
	ledger   *pool.Ledger
	tag      pool.Tag
	hasTag   bool
	noTag    bool // Options.Tag is no tag: nothing matches
	tagFound bool
	// noProcess counts the pool events of the report (tag and window
	// filters passed) that nothing named a process for.
	noProcess int64
	others    map[pool.Tag]struct{} // tags the tag filter left out
	lastTag   pool.Tag              // the last tag added to others
	// With a filter, the stack figures count the ops the ledger counted
	// (filtered); lastKO is the correlator's KernelOnly seen last, curKO
	// whether the op being applied is one of them.
	filtered bool
	kept     stacks.Stats
	lastKO   int64
	curKO    bool
	start    int64
	winEnd   int64
	events   int64
	sym      stacks.Symbolizer
	closer   io.Closer
	finished bool
	resolver *stacks.Resolver
	resolved map[stacks.StackID][]stacks.Frame // after Finish; see resolve
	// ops are the pool events fed with Correlator.Await, waiting for
	// their stacks: a ring whose size is a power of 2. opsHead and
	// opsTail count the ops taken and added (an op's slot is its count
	// masked by opsMask, len(ops)-1), so the oldest is at opsHead.
	ops                       []pool.Op
	opsHead, opsTail, opsMask uint
	key                       etw.StackKey    // scratch of feed
	stack                     stacks.StackRef // scratch of feed
	// framesOf maps the reading goroutine's frame list numbers (see
	// frameTable) to the correlator's.
	framesOf []stacks.FramesID
	// rd belongs to the goroutine that fills batches (see reading).
	rd *reading
	// keys gives each correlator stack the ledger key of its allocations
	// (pool.Op.Key), by correlator StackID; 0 = none yet. Keys are dense
	// from 1 in the order the stacks' first allocations were applied, and
	// stackOf maps them back (key k is stackOf[k-1]).
	keys    []uint64
	stackOf []stacks.StackID
}

// New returns a pipeline for a trace with the given clock, pointer size and
// start time (raw ticks of the first event; the header event's timestamp).
func New(clock *etw.Clock, ptrSize int, start int64, opts Options) (*Pipeline, error) {
	p := &Pipeline{
		opts:    opts,
		ptr:     ptrSize,
		clock:   clock,
		mods:    stacks.NewModules(ptrSize),
		methods: stacks.NewMethods(),
		start:   start,
		winEnd:  1<<63 - 1,
	}
	if opts.Tag != "" {
		t, err := pool.ParseTag(opts.Tag)
		p.tag, p.hasTag, p.noTag = t, true, err != nil
		p.others = map[pool.Tag]struct{}{}
	}
	p.filtered = opts.Tag != "" || opts.HasPID || opts.HasWindow
	freq := int64(10_000_000)
	if clock != nil && clock.Frequency > 0 {
		freq = clock.Frequency
	}
	lo := pool.Options{Frequency: freq, Start: start, PointerSize: ptrSize, PID: opts.PID, HasPID: opts.HasPID}
	if clock != nil {
		lo.WallClock = clock.Time
	}
	if opts.Resolution > 0 {
		lo.Resolution = int64(opts.Resolution.Seconds() * float64(freq))
	}
	if opts.HasWindow {
		a := start + int64(opts.Window[0]*float64(freq))
		b := start + int64(opts.Window[1]*float64(freq))
		if b <= a {
			return nil, fmt.Errorf("window %g:%g is empty", opts.Window[0], opts.Window[1])
		}
		lo.Windows = []pool.Window{{Start: a, End: b}}
		p.winEnd = b
	}
	p.ledger = pool.NewLedger(lo)
	p.ops, p.opsMask = make([]pool.Op, minOps), minOps-1
	p.corr = stacks.NewCorrelator(stacks.Options{
		PointerSize: ptrSize,
		Wait:        stacks.WaitFor(clock),
		Want:        isPool,
		Emit:        p.apply,
		ProcessOf:   p.mods.ProcessOf,
	})
	if opts.SymbolPath != "" {
		s, err := stacks.NewPathSymbolizer(opts.SymbolPath, &stacks.SymbolOptions{Logf: opts.Logf})
		if err != nil {
			return nil, err
		}
		p.sym, p.closer = s, s
	}
	return p, nil
}

func isPool(ev *etw.Event) bool {
	return ev.Provider == etw.PoolGUID && ev.Opcode >= uint8(etw.PoolAlloc) && ev.Opcode <= uint8(etw.PoolSessionFree)
}

// Event feeds one event, in time order.
func (p *Pipeline) Event(ev *etw.Event) {
	p.count(1)
	p.mods.Event(ev)
	p.methods.Event(ev)
	p.corr.Event(ev)
}

// count adds n events read and reports progress each 2^20 events.
func (p *Pipeline) count(n int64) {
	before := p.events
	p.events += n
	if p.opts.Progress != nil && before>>20 != p.events>>20 {
		p.opts.Progress(p.events)
	}
}

// uses reports whether Event does anything with ev but count it and note
// its time. It reads only ev and the pipeline's fixed parts, so the
// reading goroutine of RunReader calls it.
func (p *Pipeline) uses(ev *etw.Event) bool {
	return p.corr.Uses(ev) || p.mods.Uses(ev) || p.methods.Uses(ev)
}

// skipped accounts for n events that uses rejected, the last at raw time
// ts, before the next event fed.
func (p *Pipeline) skipped(n, ts int64) {
	p.count(n)
	p.corr.Advance(ts)
}

// apply turns a pool event with its stack into a ledger op. A nil event
// is the oldest of the pool events RunReader decoded itself (see
// Correlator.Await).
func (p *Pipeline) apply(ev *etw.Event, id stacks.StackID) {
	if ev != nil || p.filtered {
		p.applyOther(ev, id)
		return
	}
	// The common case, without a call to applyOp: an op RunReader
	// decoded, no filter.
	op := p.popOp()
	if op.PID == uint32(etw.NoPID) || op.Time >= p.winEnd {
		p.applyOp(op, id)
		return
	}
	if op.Kind == pool.Alloc {
		op.Key = p.keyOf(id)
	}
	p.ledger.Apply(op)
}

// applyOther is apply for an event fed through Event, or with a filter.
// It is a function of its own so that apply, every pool event's path,
// has a small frame and saves no arguments.
func (p *Pipeline) applyOther(ev *etw.Event, id stacks.StackID) {
	if p.filtered {
		p.noteKernelOnly()
	}
	if ev == nil {
		p.applyOp(p.popOp(), id)
		return
	}
	pe, err := etw.DecodePool(ev)
	if err != nil {
		return
	}
	var op pool.Op
	opOf(&op, ev, &pe)
	p.applyOp(&op, id)
}

// PoolOp returns the ledger op of a decoded pool event (an allocation or a
// free; see [etw.PoolEvent.IsAlloc]) without a stack: the adapter a custom
// analyzer needs between package etw and package pool. Set Op.Stack or
// Op.Key to group allocations by stack.
func PoolOp(ev *etw.Event, pe *etw.PoolEvent) pool.Op {
	var op pool.Op
	opOf(&op, ev, pe)
	return op
}

// opOf fills a ledger op (without its stack) from a decoded pool event.
func opOf(op *pool.Op, ev *etw.Event, pe *etw.PoolEvent) {
	*op = pool.Op{
		Time: ev.Timestamp, Session: pe.IsSession(), SessionID: pe.SessionID, Type: uint32(pe.Type),
		Tag: pe.Tag, Size: pe.NumberOfBytes, Entry: pe.Entry, PID: uint32(ev.PID), TID: uint32(ev.TID),
		Kind: pool.Free,
	}
	if pe.IsAlloc() {
		op.Kind = pool.Alloc
	}
}

// applyOp feeds an op to the ledger unless the options filter it out.
func (p *Pipeline) applyOp(op *pool.Op, id stacks.StackID) {
	if op.PID == uint32(etw.NoPID) {
		p.attribute(op)
	}
	if p.hasTag {
		if op.Tag != p.tag || p.noTag {
			p.otherTag(op.Tag)
			return
		}
		p.tagFound = true
	}
	if op.Time >= p.winEnd {
		return
	}
	if op.PID == uint32(etw.NoPID) {
		p.noProcess++
	}
	if op.Kind == pool.Alloc && (!p.opts.HasPID || op.PID == p.opts.PID) {
		op.Key = p.keyOf(id)
	}
	if !p.filtered {
		p.ledger.Apply(op)
		return
	}
	n := p.ledger.Applied()
	p.ledger.Apply(op)
	if p.ledger.Applied() == n {
		return // another process's block (pool.Options.PID)
	}
	// The op is a pool event of the report: count it in its stack figures.
	p.kept.Emitted++
	switch {
	case id == stacks.NoStack:
		p.kept.WithoutStack++
	case p.curKO:
		p.kept.KernelOnly++
	}
}

// noteKernelOnly records whether the correlator emitted the event being
// applied with a kernel part only (it counts that just before Emit).
func (p *Pipeline) noteKernelOnly() {
	ko := p.corr.Stats().KernelOnly
	p.curKO = ko != p.lastKO
	p.lastKO = ko
}

// otherTag notes a tag the tag filter left out.
func (p *Pipeline) otherTag(t pool.Tag) {
	if t == p.lastTag && len(p.others) > 0 {
		return
	}
	p.lastTag = t
	p.others[t] = struct{}{}
}

// keyOf returns the ledger key (pool.Op.Key) of a correlator stack, 0 for
// none. The ledger groups allocations by it without looking at frames,
// which for stack keys may only be known at the end of the trace; Finish
// resolves each key's stack once.
func (p *Pipeline) keyOf(id stacks.StackID) uint64 {
	if int(id) < len(p.keys) && p.keys[id] != 0 {
		return p.keys[id]
	}
	return p.newKey(id)
}

// newKey is keyOf for a stack without a key yet (or NoStack).
func (p *Pipeline) newKey(id stacks.StackID) uint64 {
	if id == stacks.NoStack {
		return 0
	}
	for len(p.keys) <= int(id) {
		p.keys = append(p.keys, 0)
	}
	p.stackOf = append(p.stackOf, id)
	p.keys[id] = uint64(len(p.stackOf))
	return p.keys[id]
}

// stackOfKey returns the correlator stack of a ledger key, or NoStack.
func (p *Pipeline) stackOfKey(k uint64) stacks.StackID {
	if k == 0 || k > uint64(len(p.stackOf)) {
		return stacks.NoStack
	}
	return p.stackOf[k-1]
}

// Finish ends the pass and builds the result.
func (p *Pipeline) Finish() *Result {
	if !p.finished {
		p.corr.Finish()
		p.mods.Finish()
		p.finished = true
	}
	rep := p.ledger.Finish()
	res := &Result{Report: rep, Clock: p.clock, Modules: p.mods, StackStats: p.stackStats(), PointerSize: p.ptr,
		PoolEventsWithoutProcess: p.noProcess}
	p.tagFacts(res)
	rep.Trace.Events = uint64(p.events)
	if p.opts.HasWindow && len(p.opts.Window) == 2 {
		if w, err := p.ledger.Window(pool.Window{Start: p.start + p.secToTicks(p.opts.Window[0]), End: p.winEnd}); err == nil {
			res.Window = w
		}
	}
	res.Stacks = p.resolveStacks(rep)
	res.Samples = p.samples(rep)
	res.Verdict = p.verdict(res)
	return res
}

func (p *Pipeline) secToTicks(s float64) int64 {
	freq := int64(10_000_000)
	if p.clock != nil && p.clock.Frequency > 0 {
		freq = p.clock.Frequency
	}
	return int64(s * float64(freq))
}

// Snapshot returns a result for the events so far without ending the pass
// (for live sessions); stacks still waiting in the correlator are not in
// it.
func (p *Pipeline) Snapshot() *Result {
	rep := p.ledger.Finish()
	rep.Trace.Events = uint64(p.events)
	res := &Result{Report: rep, Clock: p.clock, Modules: p.mods, StackStats: p.stackStats(), PointerSize: p.ptr, Stacks: p.resolveStacks(rep)}
	p.tagFacts(res)
	return res
}

// stackStats returns the correlator's statistics; with a filter, the
// counts of emitted pool events (with and without a stack, kernel only)
// are those of the ops the report counts, as TraceInfo.PoolEvents is.
func (p *Pipeline) stackStats() stacks.Stats {
	s := p.corr.Stats()
	if p.filtered {
		s.Emitted, s.WithoutStack, s.KernelOnly = p.kept.Emitted, p.kept.WithoutStack, p.kept.KernelOnly
	}
	return s
}

// tagFacts fills the tag filter's facts of a result.
func (p *Pipeline) tagFacts(res *Result) {
	if !p.hasTag {
		return
	}
	res.TagFound = p.tagFound
	res.OtherTags = make([]pool.Tag, 0, len(p.others))
	for t := range p.others {
		res.OtherTags = append(res.OtherTags, t)
	}
	slices.SortFunc(res.OtherTags, func(a, b pool.Tag) int { return strings.Compare(a.String(), b.String()) })
}

// Close releases the symbolizer's files.
func (p *Pipeline) Close() error {
	if p.closer != nil {
		return p.closer.Close()
	}
	return nil
}

func (p *Pipeline) resolveStacks(rep *pool.Report) []Stack {
	merge := newStackMerger()
	var out []Stack
	for _, ss := range rep.Stacks {
		st := Stack{Tag: ss.Tag.String(), Pool: ss.Pool.String(), OutstandingCount: ss.OutstandingCount,
			OutstandingBytes: ss.OutstandingBytes, Allocs: ss.Allocs, Frames: []string{}, Lines: []string{}}
		if cid := p.stackOfKey(ss.Key); cid != stacks.NoStack {
			s := p.corr.Stack(cid)
			st.PID = uint32(s.PID)
			if pr := p.mods.Process(s.PID); pr != nil {
				st.Process = pr.Name
			}
			frames := p.resolve(cid)
			st.Transition = stacks.HasWOW64Transition(frames)
			if p.opts.FoldWOW64 {
				frames = stacks.FoldWOW64(frames)
			}
			// Counted after folding, so that the counts match the frames
			// printed (a marker frame is in no segment).
			st.Segments = stacks.SegmentsOf(frames)
			st.Resolved = frames
			for i := range frames {
				st.Frames = append(st.Frames, frames[i].String())
				st.Lines = append(st.Lines, frames[i].Line())
			}
		}
		if i := merge.find(out, &st); i >= 0 {
			out[i].OutstandingCount += st.OutstandingCount
			out[i].OutstandingBytes += st.OutstandingBytes
			out[i].Allocs += st.Allocs
			continue
		}
		out = append(out, st)
	}
	slices.SortStableFunc(out, func(a, b Stack) int {
		switch {
		case a.OutstandingBytes > b.OutstandingBytes:
			return -1
		case a.OutstandingBytes < b.OutstandingBytes:
			return 1
		}
		return strings.Compare(a.Tag, b.Tag)
	})
	return out
}

// resolve returns the resolved frames of a correlator stack; after Finish
// each stack is resolved once (the report's stacks and the profile's
// samples share them).
// The slice is shared: do not modify it.
func (p *Pipeline) resolve(id stacks.StackID) []stacks.Frame {
	if f, ok := p.resolved[id]; ok {
		return f
	}
	if p.resolver == nil {
		p.resolver = &stacks.Resolver{Modules: p.mods, Methods: p.methods, Symbols: p.sym, PointerSize: p.ptr}
		p.resolved = map[stacks.StackID][]stacks.Frame{}
	}
	s := p.corr.Stack(id)
	f := p.resolver.Resolve(s.PID, s.Time, s.Frames())
	if p.finished && !s.Unresolved {
		// Before Finish (live snapshots) modules and stack keys may still
		// change what a stack resolves to.
		p.resolved[id] = f
	}
	return f
}

// Run reads the trace at path through the pipeline.
func Run(path string, opts Options) (*Result, error) {
	r, err := etw.OpenLimited(path, opts.Limits)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return RunReader(r, opts)
}

// RunReader reads an open trace through the pipeline. The reader runs in a
// goroutine of its own, a few batches of events ahead of the pipeline, so
// that on a machine with two cores or more reading and analysis overlap.
// What crosses between them is small: pool events, stack-key references
// and stack walks are decoded by the reading goroutine into 64-byte
// records (a pool event and the kernel stack key or known stack walk that
// follows it share one; a stack walk seen before crosses as the number of
// its frame list), the few other events the pipeline uses are copied, and
// the rest are only counted.
//
// A *etw.LimitError after events ends reading without failing: the result
// is that of the part read, and Damage says so (see damage.PartialStop).
func RunReader(r *etw.Reader, opts Options) (*Result, error) {
	p, err := New(r.Clock(), r.PointerSize(), r.HeaderEvent().Timestamp, opts)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	full := make(chan *batch, batchesInFlight)
	free := make(chan *batch, batchesInFlight)
	stop := make(chan struct{})
	go readBatches(r, p, full, free, stop)
	defer func() {
		// On an early return, end the reading goroutine and wait until it
		// has (it closes full), so that the caller may close r.
		close(stop)
		for range full {
		}
	}()

	var readErrs []error
	// Each stage keeps its own OS thread, and so (the OS permitting) its
	// core and that core's caches: an unlocked goroutine that blocks on a
	// channel resumes on whichever thread is free. On the 1 GB benchmark
	// trace this made the pipeline about 8% faster.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for b := range full {
		p.feed(b)
		readErrs = append(readErrs, b.errs...)
		if b.err != nil {
			if !damage.PartialStop(r, b.err) {
				return nil, b.err
			}
			// A resource limit after events: the result is that of the
			// part read, the LimitError last among the read errors. The
			// reading goroutine has stopped.
			readErrs = append(readErrs, b.err)
		}
		b.reset()
		free <- b
	}
	res := p.Finish()
	res.Header = r.Header()
	res.ReadErrors = readErrs
	res.Damage = r.Report(readErrs)
	h := r.Header()
	res.Report.Trace.EventsLost = uint64(h.EventsLost)
	res.Report.Trace.BuffersLost = uint64(h.BuffersLost)
	if t := &res.Report.Trace; t.PoolEvents == 0 && h.StartTime != 0 && h.EndTime >= h.StartTime {
		// No pool events: the span is the logfile header's.
		t.Start, t.End = etw.FiletimeToTime(h.StartTime), etw.FiletimeToTime(h.EndTime)
		t.DurationS = float64(h.EndTime-h.StartTime) / 1e7
	}
	return res, nil
}

// Batches between the reading goroutine and the pipeline: batchLen records
// (512 KiB) each, or batchStart (see nextBatchSize), batchesInFlight of them
// at most, and up to batchEvents copies of whole events (the rare ones the
// pipeline uses besides pool and stack-key records), which keep their copy
// buffers for reuse unless larger than maxKeptRecord.
//
// Batch size trades handoffs against fresh memory. While the reading
// goroutine wrote records in place, handing over less often paid most:
// 32,768 records a batch, four in flight, against 4,096 and eight, took
// poolleak -json on the 200 MB traces of BENCHMARKS.md 12 to 20% less
// wall time. Since records are copied out with non-temporal stores (see
// batch), a handoff costs little, and the batches' memory costs its page
// faults (about 12 us each on the benchmark VM; the four batches of 2 MiB
// were 2,100 of poolleak's 3,900 faults on the 200 MB stack-key trace).
// With 8,192 records a batch, poolleak -json took 212 instead of 228 ms
// (stack keys) and 211 instead of 222 ms (full walks) on the 200 MB
// traces (15 interleaved runs, medians), and 951 instead of 994 and 833
// instead of 900 ms on the 1 GB ones (7 runs); 4,096 records were as fast
// at 200 MB and slower at 1 GB (1,042 and 917 ms). Small traces keep
// batches of batchStart records: with 2 MiB batches from the start,
// poolleak -json took 26.4 instead of 21.5 ms on testdata/irp-leak.etl
// and 166 instead of 152 ms on the PerfView net.4.5.2.x64 trace, whose
// batches fill with copied events.
const (
	batchLen        = 8192
	batchStart      = 4096
	batchEvents     = 512
	batchesInFlight = 4
	maxKeptRecord   = 4096
)

// Kinds of rec.
const (
	recPool        uint8 = iota + 1 // a decoded pool event
	recKey                          // a decoded stack-key reference
	recEvent                        // a copied event: batch.evs[idx]
	recSkip                         // events the pipeline has no use for
	recPoolKey                      // recPool with the StackKeyKernel record that followed it
	recStack                        // a decoded StackWalk Stack record whose frames were seen before
	recStackNew                     // recStack with frames not seen before
	recPoolStack                    // recPool with the Stack record (frames seen before) that followed it
	recPoolKeyNT                    // recPoolKey for a pool event whose header names no process or thread
	recPoolStackNT                  // recPoolStack for a pool event whose header names no process or thread
)

// rec is one entry of a batch, 64 bytes. Which fields are set depends on
// kind:
//
//	recPool:      an event (ts, pid, tid as ThreadOf gives it, cpu) and its
//	              pool fields (op: the PoolOp; entry, size, tag, typ,
//	              session)
//	recPoolKey:   recPool, and the StackKeyKernel record logged next on
//	              the same processor for this event (ref = its Key, at refTS)
//	recPoolStack: recPool, and the Stack record logged next on the same
//	              processor for this event, of the trace's pointer size
//	              (ref = its frame list number, see frameTable, at refTS)
//	recPoolKeyNT, recPoolStackNT: recPoolKey and recPoolStack for a pool
//	              event whose header names no process or thread (PERFINFO:
//	              etw.NoPID, etw.NoTID), logged next to the record of the
//	              same timestamp; pid and tid are the record's
//	recKey:       a stack-key record (ref = Key, logged at refTS on cpu; op
//	              1 for StackKeyKernel, 0 for StackKeyUser) naming its
//	              event (ts = EventTimeStamp, pid = Process, tid = Thread)
//	recStack:     a Stack record (ref = its frame list number, logged at
//	              refTS on cpu; op = pointer size) naming its event as
//	              recKey does
//	recStackNew:  recStack, and the list's frames: size of them at
//	              batch.frames[session:]
//	recEvent:     session = the index of the copy in batch.evs
//	recSkip:      ts of the last event left out; entry = how many
type rec struct {
	ts       int64
	entry    uint64 // PoolEvent.Entry; for recSkip, the events left out
	size     uint64 // PoolEvent.NumberOfBytes; for recStackNew, the frames
	ref      uint64 // the stack referred to: StackKey.Key, or a Stack record's frame list number
	refTS    int64  // timestamp of the stack-key or Stack record
	tag, typ uint32 // PoolEvent.Tag and Type
	session  uint32 // PoolEvent.SessionID; the index into batch.evs (recEvent) or batch.frames (recStackNew)
	pid, tid uint32
	cpu      uint16
	kind, op uint8
}

// batch is a run of records read ahead, in time order.
//
// The reading goroutine writes each record into stage, 4 KB that stay in
// its core's cache, and copies them to all a stage at a time (flush,
// seal) with non-temporal stores where the machine has them (copyOut).
// Written in place, each line of all is first fetched for writing from
// the other core, which read it in an earlier batch: on the 1 GB trace of
// stack keys the reading goroutine then took 0.9 to 1.4 s of CPU (10
// runs), and 0.74 to 0.80 s with its records copied out this way (see
// BENCHMARKS.md).
type batch struct {
	recs []rec // all[:n], set by seal: what the pipeline reads
	all  []rec
	// The reading goroutine's side: n records in all, then ns in stage,
	// of size at most. room is ns < left: left is size-n, or 0 once the
	// batch holds batchEvents copies or its frames might not take another
	// list (one comparison per event, where testing the three limits took
	// 13 instructions).
	n, ns, size, left int
	stage             [stageLen]rec
	evs               []etw.Event // copies for recEvent
	nev               int
	// frames of the recStackNew records, batchFrames at most.
	frames []uint64
	errs   []error // damage reports (*etw.FormatError), in order
	err    error   // an error that ends the read
	// Decoding scratch of the reading goroutine.
	pool etw.PoolEvent
	key  etw.StackKey
}

// stageLen is the records of batch.stage: 4 KB.
const stageLen = 64

func newBatch() *batch {
	// Copies of events and frames are made as records need them: most
	// batches hold neither.
	b := &batch{}
	b.setSize(batchStart)
	return b
}

// setSize makes the empty batch b take size records.
func (b *batch) setSize(size int) {
	if cap(b.all) < size {
		b.all = make([]rec, 0, size)
	}
	b.size = size
	b.left = size - b.n
}

func (b *batch) reset() {
	for i := range b.nev {
		if len(b.evs[i].Raw()) > maxKeptRecord {
			b.evs[i] = etw.Event{} // do not keep a large record's copy buffer
		}
	}
	b.recs, b.n, b.ns, b.nev, b.errs, b.err, b.frames = b.all[:0], 0, 0, 0, b.errs[:0], nil, b.frames[:0]
	b.left = b.size
}

// room reports whether the batch takes one more record, which may be a
// copied event or a stack record with new frames.
func (b *batch) room() bool { return b.ns < b.left }

// limit ends the batch's room once it holds batchEvents copies or its
// frames might not take another list (see left).
func (b *batch) limit() {
	if b.nev >= batchEvents || len(b.frames) > batchFrames-maxListFrames {
		b.left = 0
	}
}

// last returns the record added last, nil if there is none or the batch
// is sealed.
func (b *batch) last() *rec {
	if b.ns == 0 {
		return nil
	}
	return &b.stage[b.ns-1]
}

// flush copies the staged records to all but the last, which stays staged
// (as the first): the next record may still join it (lastPool) or a skip
// count grow in it.
func (b *batch) flush() {
	k := b.ns - 1
	copyOut(b.all[b.n:b.n+k], b.stage[:k])
	b.n += k
	b.left -= k
	b.stage[0] = b.stage[k]
	b.ns = 1
}

// seal copies the staged records to all and sets recs, ready for the
// pipeline.
func (b *batch) seal() {
	copyOut(b.all[b.n:b.n+b.ns], b.stage[:b.ns])
	b.n += b.ns
	b.left -= b.ns
	b.ns = 0
	b.recs = b.all[:b.n]
}

// add appends ev to the batch: decoded when it is a pool event or a
// stack-key reference, copied when the pipeline uses it otherwise, and
// counted in a skip record when not. It reports false, adding nothing,
// when the batch is full.
func (b *batch) add(rd *reading, ev *etw.Event) bool {
	if !b.room() {
		return false
	}
	// Records are written field by field into their slot: building one on
	// the stack and copying it stalls on store forwarding. stackRecord
	// takes only StackWalk Stack records, fastRecord none: a stack record
	// does not go through fastRecord's tests first.
	if ev.Hook == etw.HookStackWalk {
		if stackRecord(rd, ev, b) {
			return true
		}
	} else if fastRecord(ev, b) {
		return true
	}
	// A lean event these did not take is framed in full for the rest.
	leanframe.Complete(ev)
	switch {
	case decodedRecord(ev, b):
		return true
	case !rd.p.uses(ev):
		if r := b.last(); r != nil && r.kind == recSkip {
			r.entry++
			r.ts = ev.Timestamp
		} else {
			r := b.next()
			r.kind, r.ts, r.entry = recSkip, ev.Timestamp, 1
		}
		return true
	}
	if b.nev == len(b.evs) {
		b.evs = append(b.evs, etw.Event{})
	}
	ev.CloneInto(&b.evs[b.nev])
	r := b.next()
	r.kind, r.session = recEvent, uint32(b.nev)
	b.nev++
	b.limit()
	return true
}

// decodedRecord adds a pool event or a stack-key reference through the etw
// decoders and reports whether it did; events that do not decode go the
// way of other events.
func decodedRecord(ev *etw.Event, b *batch) bool {
	switch {
	case isPool(ev) && ev.IsKernel(): // kernel records carry no extended-data stack
		pe := &b.pool
		if pe.Decode(ev) != nil {
			return false
		}
		r := b.next()
		r.kind, r.ts, r.pid, r.tid, r.cpu = recPool, ev.Timestamp, uint32(ev.PID), uint32(stacks.ThreadOf(ev)), ev.Processor
		r.op, r.entry, r.size, r.tag, r.typ, r.session = uint8(pe.Op), pe.Entry, pe.NumberOfBytes, uint32(pe.Tag), uint32(pe.Type), pe.SessionID
		return true
	case ev.Provider == etw.StackWalkGUID && (ev.Opcode == etw.StackWalkStackKeyKernel || ev.Opcode == etw.StackWalkStackKeyUser):
		k := &b.key
		if k.Decode(ev) != nil {
			return false
		}
		r := b.next()
		r.kind, r.refTS, r.cpu, r.op = recKey, ev.Timestamp, ev.Processor, 0
		if k.Kernel {
			r.op = 1
		}
		r.ref, r.ts, r.tid, r.pid = k.Key, k.EventTimeStamp, uint32(k.Thread), uint32(k.Process)
		return true
	}
	return false
}

// fastRecord adds the two records that make up most of a pool trace, a
// regular-pool alloc or free and a stack-key reference, in the 64-bit
// kernel-header form, without a call to the etw decoders, and reports
// whether it did. It reads the fields those decoders read at the offsets
// they use (etw.PoolEvent: Type, Tag, NumberOfBytes, Entry; etw.StackKey:
// EventTimeStamp, Process, Thread, Key); every other form goes through
// them. Decoding is most of the reading goroutine's own work, and the call
// alone costs more than these loads (TestFastRecordAgrees checks that both
// ways give the same records).
func fastRecord(ev *etw.Event, b *batch) bool {
	if ev.Header != etw.HeaderPerfInfo64 && ev.Header != etw.HeaderSystem64 || len(ev.Payload) < 24 {
		return false
	}
	pl := ev.Payload[:24]
	switch ev.Hook {
	case etw.HookPoolAlloc, etw.HookPoolFree:
		r := b.next()
		r.kind, r.ts, r.pid, r.tid, r.cpu = recPool, ev.Timestamp, uint32(ev.PID), uint32(ev.TID), ev.Processor
		r.op, r.session = uint8(ev.Hook), 0
		r.typ, r.tag = binary.LittleEndian.Uint32(pl), binary.LittleEndian.Uint32(pl[4:])
		r.size, r.entry = binary.LittleEndian.Uint64(pl[8:]), binary.LittleEndian.Uint64(pl[16:])
		return true
	case etw.HookStackKeyKernel, etw.HookStackKeyUser:
		if ev.Hook == etw.HookStackKeyKernel {
			// Most pool events are followed at once by their kernel
			// stack key: one record then stands for both.
			if r := lastPool(b, ev.Processor, pl); r != nil {
				if kind, pid, tid := pairKind(r, pl, recPoolKey, recPoolKeyNT); kind != 0 {
					r.kind, r.pid, r.tid, r.ref, r.refTS = kind, pid, tid, binary.LittleEndian.Uint64(pl[16:]), ev.Timestamp
					return true
				}
			}
		}
		r := b.next()
		r.kind, r.refTS, r.cpu, r.op = recKey, ev.Timestamp, ev.Processor, 0
		if ev.Hook == etw.HookStackKeyKernel {
			r.op = 1
		}
		r.ts, r.pid, r.tid = int64(binary.LittleEndian.Uint64(pl)), binary.LittleEndian.Uint32(pl[8:]), binary.LittleEndian.Uint32(pl[12:])
		r.ref = binary.LittleEndian.Uint64(pl[16:])
		return true
	}
	return false
}

// leanHooks are the hooks of the records fastRecord and stackRecord take,
// which the reading goroutine has the reader frame lean (see
// internal/leanframe): they read Header, Hook, PID, TID, Timestamp,
// Processor and Payload, and readBatches Buffer.
var leanHooks = []uint16{
	uint16(etw.HookPoolAlloc), uint16(etw.HookPoolFree),
	uint16(etw.HookStackKeyKernel), uint16(etw.HookStackKeyUser),
	uint16(etw.HookStackWalk),
}

// next extends the batch by one record and returns it; only the fields
// its kind uses are meaningful. The caller has checked room.
func (b *batch) next() *rec {
	if b.ns == stageLen {
		b.flush()
	}
	r := &b.stage[b.ns]
	b.ns++
	return r
}

// feed runs the records of a batch through the pipeline, as Event would
// run the events they stand for.
func (p *Pipeline) feed(b *batch) {
	// Events of the decoded records are counted at the end (events fed
	// through Event and skipped ones count themselves).
	var n int64
	defer func() { p.count(n) }()
	recs := b.recs // a local: the calls below would make b.recs load again
	for i := range recs {
		r := &recs[i]
		switch r.kind {
		case recPool, recPoolKey, recPoolStack, recPoolKeyNT, recPoolStackNT:
			n++
			po := etw.PoolOp(r.op)
			if p.fullOps() {
				p.growOps()
			}
			// The event's process and thread: for the NT kinds, pid and
			// tid are those of the stack record that follows it.
			epid, etid := r.pid, r.tid
			if r.kind == recPoolKeyNT || r.kind == recPoolStackNT {
				epid, etid = uint32(etw.NoPID), uint32(etw.NoTID)
			}
			op := p.pushOp()
			op.Time, op.Kind, op.Session, op.SessionID, op.Type, op.Tag = r.ts, poolKind(po), po&1 != 0, r.session, r.typ, pool.Tag(r.tag)
			op.Size, op.Entry, op.PID, op.TID, op.Stack, op.Key = r.size, r.entry, epid, etid, pool.NoStack, 0
			switch r.kind {
			case recPool:
				p.corr.Await(r.ts, etw.PID(r.pid), etw.TID(r.tid), r.cpu)
				continue
			case recPoolStack, recPoolStackNT:
				n++
				p.awaitStack(r, etw.PID(epid), etw.TID(etid))
				continue
			}
			n++
			k := &p.key
			k.EventTimeStamp, k.Process, k.Thread, k.Key, k.Kernel = r.ts, etw.PID(r.pid), etw.TID(r.tid), r.ref, true
			p.corr.AwaitKernelKey(r.ts, etw.PID(epid), etw.TID(etid), r.cpu, k, r.refTS)
		case recKey:
			n++
			k := &p.key
			k.EventTimeStamp, k.Process, k.Thread, k.Key, k.Kernel = r.ts, etw.PID(r.pid), etw.TID(r.tid), r.ref, r.op == 1
			p.corr.KeyReference(k, r.cpu, r.refTS)
		case recStack, recStackNew:
			n++
			p.stackRef(b, r)
		case recEvent:
			p.Event(&b.evs[r.session])
		case recSkip:
			p.skipped(int64(r.entry), r.ts)
		}
	}
}

// poolKind returns the ledger op kind of a pool opcode of a record:
// PoolAlloc and PoolSessionAlloc (0x20, 0x21) allocate, PoolFree and
// PoolSessionFree (0x22, 0x23) free. It reads bit 1 of the opcode rather
// than testing po.IsAlloc: allocations and frees come in no order a
// processor's branch predictor can learn, and the test was mispredicted
// for about every second pool event. A record's opcode is one of those
// four (isPool; fastRecord takes only 0x20 and 0x22), and of those, the
// session ones are the two with bit 0 set.
func poolKind(po etw.PoolOp) pool.OpKind {
	return pool.Alloc + pool.OpKind(po>>1&1)
}

// pushOp adds a slot at the tail of the queue of decoded pool events
// waiting for the correlator to emit them, and returns it for the caller
// to fill, every field (it may hold an earlier op), one by one: a struct
// built elsewhere and copied in stalls on store forwarding. The ring must
// have room: the caller grows it first when full (fullOps, growOps), so
// that pushOp stays small enough to inline.
func (p *Pipeline) pushOp() *pool.Op {
	op := &p.ops[p.opsTail&p.opsMask]
	p.opsTail++
	return op
}

// fullOps reports whether the ring of ops is full.
func (p *Pipeline) fullOps() bool { return p.opsTail-p.opsHead > p.opsMask }

// popOp takes the oldest op of the queue, which must not be empty. The
// slot stays valid until feed adds the next one.
func (p *Pipeline) popOp() *pool.Op {
	op := &p.ops[p.opsHead&p.opsMask]
	p.opsHead++
	return op
}

// growOps doubles the ring of ops, keeping them in order. Its size follows
// the most ops waiting at once, which the correlator bounds (see
// stacks.Correlator).
func (p *Pipeline) growOps() {
	ops := make([]pool.Op, 2*len(p.ops))
	n := p.opsTail - p.opsHead
	for i := range n {
		ops[i] = p.ops[(p.opsHead+i)&p.opsMask]
	}
	p.ops, p.opsMask, p.opsHead, p.opsTail = ops, uint(len(ops)-1), 0, n
}

// minOps is the first size of the ring of ops (a power of 2).
const minOps = 64

// readBatches reads r to the end into batches taken from free and sent on
// full, which it closes at the end. It returns early when stop closes.
func readBatches(r *etw.Reader, p *Pipeline, full, free chan *batch, stop chan struct{}) {
	runtime.LockOSThread() // see RunReader
	defer runtime.UnlockOSThread()
	defer close(full)
	// The records fastRecord and stackRecord take are framed lean: they
	// read only the fields lean framing sets. Anything else they leave is
	// completed first (batch.add). Off again before full closes, so that
	// the caller gets the reader back as it was.
	leanframe.SetLean(r, leanHooks)
	defer leanframe.SetLean(r, nil)
	rd := p.reading()
	// Batches are made as the reading gets ahead of the pipeline, up to
	// batchesInFlight: while the pipeline keeps up, a few go round and the
	// others are never made (fresh memory costs a page fault per page on
	// first use, see BENCHMARKS.md).
	//
	// Batches take batchStart records, or batchLen after one that records
	// filled, and the last ones fewer again (see nextBatchSize): on a
	// small trace the pipeline starts early and ends soon after the
	// reading, which batches of batchLen records would hold up for much
	// of the trace, and a trace whose batches fill with copied events
	// first keeps batches of batchStart records.
	made, sent, total := 0, 0, int(r.Header().BuffersWritten)
	take := func() *batch {
		select {
		case b := <-free:
			return b
		default:
		}
		if made < batchesInFlight {
			made++
			return newBatch()
		}
		select {
		case b := <-free:
			return b
		case <-stop:
			return nil
		}
	}
	next := func(filled bool, at int) *batch {
		b := take()
		if b != nil {
			b.setSize(nextBatchSize(filled, sent, at, total))
		}
		return b
	}
	b := next(false, 0) // batchStart records
	if b == nil {
		return
	}
	for ev, err := range r.All() {
		if err != nil {
			var fe *etw.FormatError
			if errors.As(err, &fe) {
				b.errs = append(b.errs, err)
				continue
			}
			b.err = err
			break
		}
		for !b.add(rd, ev) {
			b.seal()
			sent += len(b.recs)
			filled := len(b.recs) == b.size
			select {
			case full <- b:
			case <-stop:
				return
			}
			if b = next(filled, ev.Buffer); b == nil {
				return
			}
		}
	}
	b.seal()
	select {
	case full <- b:
	case <-stop:
	}
}

// nextBatchSize returns how many records the next batch takes: batchLen
// when the last batch was filled by records (not ended by copied events
// or frames), else batchStart; and, with sent records sent so far and the
// reading at buffer index at of the total the logfile header claims, no
// more than half the records the rest of the trace holds at the rate so
// far (buffers are read about in file order), so that the last batches
// are small and the pipeline does not work on a large one alone once the
// reading is over. A header that miscounts the buffers changes batch
// sizes only, never what the pipeline finds.
func nextBatchSize(filled bool, sent, at, total int) int {
	n := batchStart
	if filled {
		n = batchLen
	}
	if at > 0 && total > at {
		n = min(n, int(int64(sent)*int64(total-at)/int64(at)/2))
	}
	return max(n, batchStart)
}

// lastPool returns the last record of b when it is a pool event's
// (recPool) logged on processor cpu at the timestamp that the payload pl
// of the stack record logged next there names (its EventTimeStamp, the
// first field of stack keys and Stack records alike), else nil: the
// record pairKind may join the stack record to.
func lastPool(b *batch, cpu uint16, pl []byte) *rec {
	if r := b.last(); r != nil && r.kind == recPool && r.cpu == cpu && r.ts == int64(binary.LittleEndian.Uint64(pl)) {
		return r
	}
	return nil
}

// pairKind returns the kind of a pool event's record r (recPool) once the
// stack record that follows it on its processor at its timestamp, whose
// payload starts pl (EventTimeStamp, then process and thread), joins it,
// and the process and thread r then holds: same when the record names the
// event's process and thread, nt when the event's header named none (a
// PERFINFO header; r then holds the record's), and 0 when the record
// names another thread, which crosses on its own. The correlator takes
// the pair as the event then the record (Correlator.AwaitKernelKey,
// AwaitStack): which event the record belongs to is its search's to find,
// not this guess's.
func pairKind(r *rec, pl []byte, same, nt uint8) (kind uint8, pid, tid uint32) {
	pid, tid = binary.LittleEndian.Uint32(pl[8:]), binary.LittleEndian.Uint32(pl[12:])
	switch {
	case r.pid == pid && r.tid == tid:
		return same, pid, tid
	case r.pid == uint32(etw.NoPID) && r.tid == uint32(etw.NoTID):
		return nt, pid, tid
	}
	return 0, 0, 0
}
