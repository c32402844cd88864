package pool

import (
	"time"
)

// Default limits of [Options].
const (
	// DefaultFrequency is used when [Options.Frequency] is 0: 10 MHz, the
	// FILETIME-based clocks of ETW (100 ns ticks).
	DefaultFrequency = 10_000_000
	// DefaultMaxBins bounds the number of time bins; when a trace outgrows it
	// the bin width doubles (see [Options.MaxBins]).
	DefaultMaxBins = 4096
	// DefaultMaxCells bounds the lifetime histogram (see [Options.MaxCells]).
	DefaultMaxCells = 1 << 20
	// MaxWindows caps [Options.Windows]; each declared window costs work on
	// every event.
	MaxWindows = 64
	// MaxBinsLimit caps [Options.MaxBins].
	MaxBinsLimit = 1 << 20
)

// Options configure a [Ledger]. The zero value works: 10 MHz ticks, trace
// start at the first event, 1-second bins.
type Options struct {
	// Frequency is the number of clock ticks per second of [Op.Time]
	// (the trace's PerfFreq, or 10 MHz for system-time clocks).
	Frequency int64
	// Start is the tick of the trace start. Bins and seconds are counted from
	// it. 0 means the time of the first op.
	Start int64
	// WallClock, if set, converts ticks to wall time for [TraceInfo.Start]
	// and [TraceInfo.End] (for example etw's Clock.Time).
	WallClock func(ticks int64) time.Time
	// Resolution is the width of a time bin in ticks. 0 means one second.
	// Series, the growth fit and the after-the-pass windows of
	// [Ledger.Window] work at this resolution.
	Resolution int64
	// MaxBins bounds the number of bins (0 means [DefaultMaxBins], at most
	// [MaxBinsLimit]). When an
	// event falls past the last bin, the bin width doubles and existing bins
	// merge pairwise, so memory stays bounded for any trace length. The
	// effective width is [Report.BinTicks].
	MaxBins int
	// MaxCells bounds the number of (tag, pool, alloc bin, free bin) cells of
	// the lifetime histogram (0 means [DefaultMaxCells], about 60 MB). When
	// exceeded, the bin width doubles as for MaxBins; if that does not shrink
	// the histogram below half the bound, the bound doubles instead.
	MaxCells int
	// PointerSize is 4 or 8 (default 8). It sets the kernel address boundary
	// used to tell kernel frames from user frames (0x80000000 for 4,
	// 0x0000800000000000 for 8).
	PointerSize int
	// Windows are classified exactly, at tick granularity, while streaming.
	// At most [MaxWindows]; the rest are ignored. Windows are half-open
	// [Start, End) in ticks.
	Windows []Window
	// PID, when HasPID is set, attributes blocks to the process that
	// allocated them, as WPA does under a process filter: only allocations
	// of PID are counted; a free counts, whichever process logs it, when it
	// frees one of those blocks (drivers free IRPs in other contexts); every
	// other free is left out, so there is no AOFI and no free without
	// alloc. Allocations of other processes still hold their addresses
	// until freed, so that their frees are not taken for frees of PID's
	// blocks, but they are not counted anywhere (not even in
	// [TraceInfo.PoolEvents]).
	PID    uint32
	HasPID bool
}

// Window is a half-open time range [Start, End) in ticks: an event at time t
// is inside when Start <= t < End.
type Window struct {
	Start, End int64 // ticks
}

// group aggregates blocks by (tag, kind, stack, caller's key, allocating
// pid). Every alloc of a group ends freed, replaced or outstanding, so its
// frees are not counted but derived (see frees): the group stays 72 bytes.
type group struct {
	next     uint32 // index+1 of the next group with the same hash key
	tk       uint32
	pid      uint32
	stack    StackID
	key      uint64
	allocs   uint64
	replaced uint64
	bytesA   uint64
	bytesF   uint64
	outN     uint64
	outBytes uint64
}

// frees returns the number of the group's blocks that were freed.
func (g *group) frees() uint64 { return g.allocs - g.replaced - g.outN }

// tkState holds per (tag, kind) counters that do not belong to a group.
type tkState struct {
	tag       Tag
	kind      Kind
	bigPool   uint64
	unmatched uint64 // frees without an open block
	unmBytes  uint64
	win       []classCounters // one per declared window
	// The histogram cells this (tag, kind) used last, as indexes into
	// cellVals: the cOpen cell of alloc bin openA and the cFreed cell of
	// alloc bin and free bin freedAF (a<<32 | f). Most ops hit them,
	// sparing the hash of cell. noBin in openA and in the alloc bin of
	// freedAF (set at creation and by coarsen) marks them empty.
	openA, openCell uint32
	freedCell       uint32
	freedAF         uint64
}

// Cell classes of the lifetime histogram.
const (
	cFreed     uint8 = iota // a = alloc bin, f = free bin
	cOpen                   // a = alloc bin; block still open
	cReplaced               // a = alloc bin, f = bin of the alloc that replaced it
	cUnmatched              // f = free bin of a free without an open block
)

type cellKey struct {
	tk   uint32
	a, f uint32
	cls  uint8
}

type cell struct {
	n, bytes uint64
}

// classCounters are the window classes with their byte totals.
type classCounters struct {
	allocs, frees, aifi, aifo, aofi, aofo       uint64
	bAllocs, bFrees, bAIFI, bAIFO, bAOFI, bAOFO uint64
}

// Sizes of the Ledger's lookup caches (powers of two).
const (
	tkCacheBits    = 8
	tkCacheSize    = 1 << tkCacheBits
	groupCacheBits = 12
	groupCacheSize = 1 << groupCacheBits
	cellCacheBits  = 12
	cellCacheSize  = 1 << cellCacheBits
)

// Ledger matches pool allocations with frees and aggregates what is
// outstanding. Feed it ops in timestamp order with [Ledger.Apply], then call
// [Ledger.Finish]. It is a push consumer, independent of the event source.
//
// A Ledger is not safe for concurrent use.
type Ledger struct {
	freq    int64
	start   int64
	started bool
	last    int64
	width   uint64 // bin width in ticks
	// The bin of the latest op, to spare the divisions: ticks from start in
	// [binLo, binLo+binW) are in bin binCur. binW is width, or 0 when unset
	// (before the first op and after coarsen).
	binLo, binW uint64
	binCur      uint32
	maxBins     uint64
	cellCap     int
	wallTime    func(int64) time.Time

	stacks   *stackTable
	regular  blockTable
	sessions map[uint32]*blockTable
	// The session table used last (nil for none) and its session: ops of
	// one session come in runs, and session tables are never dropped.
	lastSession *blockTable
	lastSID     uint32

	groups   []group
	groupIdx map[uint64]uint32 // hashKey of a group → index+1 of the first group with that hash
	tks      []tkState
	tkIdx    map[uint64]uint32
	cellIdx  map[uint64]uint32 // hashKey of a cell key → index+1 of the first cell with that hash
	cellKeys []cellKey
	cellVals []cell
	cellNext []uint32 // index+1 of the next cell with the same hash, 0 at the end
	windows  []Window
	hasPID   bool
	pid      uint32

	// Direct-mapped caches in front of tkIdx, groupIdx and cellIdx: slot
	// (hash of the key) holds index+1 of an entry seen recently, 0 for none.
	// A hit is confirmed by comparing the entry's own key, so a stale or
	// colliding slot only costs the map lookup. groupCache is keyed by the
	// allocation's tag and kind rather than its tk, so that a hit also
	// spares tkIndex; the group's tk confirms them. Groups and tks are never
	// removed; cells are rebuilt by coarsen, which clears cellCache.
	tkCache    [tkCacheSize]uint32
	groupCache [groupCacheSize]uint32
	cellCache  [cellCacheSize]uint32

	poolEvents uint64
	anom       Anomalies
}

// NewLedger returns an empty ledger configured by opt.
func NewLedger(opt Options) *Ledger {
	l := &Ledger{
		freq:     opt.Frequency,
		start:    opt.Start,
		wallTime: opt.WallClock,
		sessions: make(map[uint32]*blockTable),
		groupIdx: make(map[uint64]uint32),
		tkIdx:    make(map[uint64]uint32),
		cellIdx:  make(map[uint64]uint32),
		stacks:   newStackTable(opt.PointerSize),
	}
	if l.freq <= 0 {
		l.freq = DefaultFrequency
	}
	l.width = uint64(l.freq)
	if opt.Resolution > 0 {
		l.width = uint64(opt.Resolution)
	}
	l.maxBins = DefaultMaxBins
	if opt.MaxBins > 0 {
		l.maxBins = uint64(min(opt.MaxBins, MaxBinsLimit))
	}
	l.cellCap = DefaultMaxCells
	if opt.MaxCells > 0 {
		l.cellCap = opt.MaxCells
	}
	l.hasPID, l.pid = opt.HasPID, opt.PID
	for _, w := range opt.Windows {
		if len(l.windows) == MaxWindows {
			break
		}
		l.windows = append(l.windows, w)
	}
	return l
}

// InternStack returns the ID of a stack, frames innermost first, adding it on
// first sight. The frames are copied once; later calls with an equal stack
// return the same ID without allocating.
//
// Identity is (pid, frames) when the stack has at least one user-mode frame
// (user addresses only mean something inside one process) and frames alone
// for kernel-only stacks (pid is then ignored), so a kernel stack shared by
// many processes is one stack. Stacks longer than [MaxStackFrames] are
// truncated. An empty stack is [NoStack].
func (l *Ledger) InternStack(pid uint32, frames []uint64) StackID {
	return l.stacks.intern(pid, frames)
}

// Stack returns the identity of an interned stack: the pid it is keyed by (0
// for kernel-only stacks) and its frames, innermost first. The slice aliases
// the ledger's storage and must not be modified. Unknown IDs yield (0, nil).
func (l *Ledger) Stack(id StackID) (pid uint32, frames []uint64) {
	return l.stacks.get(id)
}

// advance sets the current time from an op, clamping out-of-order times, and
// returns the op's bin. It may widen the bins. Apply does its common case
// (an op in order, in the bin of the previous one) itself.
func (l *Ledger) advance(t int64) (int64, uint32) {
	if !l.started {
		l.started = true
		if l.start == 0 {
			l.start = t
		}
		l.last = l.start
	}
	if t < l.last {
		l.anom.OutOfOrder++
		t = l.last
	}
	l.last = t
	d := uint64(t) - uint64(l.start)
	if d-l.binLo < l.binW && len(l.cellVals) < l.cellCap {
		return t, l.binCur
	}
	for d/l.width >= l.maxBins && l.width < 1<<62 {
		l.coarsen()
	}
	if len(l.cellVals) >= l.cellCap {
		l.coarsen()
		if len(l.cellVals) >= l.cellCap/2 {
			l.cellCap *= 2
		}
	}
	bin := d / l.width
	l.binLo, l.binW, l.binCur = bin*l.width, l.width, uint32(bin)
	return t, uint32(bin)
}

// binOf returns the bin of a time at or before the current time.
func (l *Ledger) binOf(t int64) uint32 {
	d := uint64(t) - uint64(l.start)
	if d-l.binLo < l.binW {
		return l.binCur
	}
	// The bin before the current one: d in [binLo-binW, binLo).
	if e := l.binLo - d; e-1 < l.binW && l.binCur > 0 {
		return l.binCur - 1
	}
	return uint32(d / l.width)
}

// coarsen doubles the bin width, merging cells pairwise.
func (l *Ledger) coarsen() {
	l.width *= 2
	l.binW = 0
	for i := range l.tks {
		l.tks[i].openA, l.tks[i].freedAF = noBin, noFreedAF
	}
	keys, vals := l.cellKeys, l.cellVals
	l.cellIdx = make(map[uint64]uint32, len(keys)/2)
	l.cellKeys = make([]cellKey, 0, len(keys)/2)
	l.cellVals = make([]cell, 0, len(keys)/2)
	l.cellNext = make([]uint32, 0, len(keys)/2)
	l.cellCache = [cellCacheSize]uint32{}
	for i, k := range keys {
		k.a /= 2
		k.f /= 2
		c := l.cell(k)
		c.n += vals[i].n
		c.bytes += vals[i].bytes
	}
}

// cell returns the histogram cell of k, creating it. The pointer is valid
// until the next new cell.
func (l *Ledger) cell(k cellKey) *cell {
	return &l.cellVals[l.cellIndex(k)]
}

// cellIndex returns the index in cellVals of the cell of k, creating it.
// Indexes stay valid until coarsen.
func (l *Ledger) cellIndex(k cellKey) uint32 {
	cs := &l.cellCache[cacheSlot(k.tk, k.a, k.f, uint32(k.cls))>>(64-cellCacheBits)]
	if j := *cs; j != 0 && l.cellKeys[j-1] == k {
		return j - 1
	}
	h := hashKey(k.tk, k.a, k.f, uint32(k.cls))
	first := l.cellIdx[h]
	for j := first; j != 0; j = l.cellNext[j-1] {
		if l.cellKeys[j-1] == k {
			*cs = j
			return j - 1
		}
	}
	i := uint32(len(l.cellVals))
	l.cellKeys = append(l.cellKeys, k)
	l.cellVals = append(l.cellVals, cell{})
	l.cellNext = append(l.cellNext, first)
	l.cellIdx[h] = i + 1
	*cs = i + 1
	if len(l.cellVals) >= l.cellCap {
		l.binW = 0 // the next op coarsens (advanceSlow)
	}
	return i
}

// hashKey mixes the fields of a composite key into a 64-bit map key, so
// that the hot maps use the runtime's fast 64-bit path; equal hashes are
// told apart by comparing the stored keys.
func hashKey(a, b, c, d uint32) uint64 {
	h := (uint64(a)<<32 | uint64(b)) * 0x9E3779B97F4A7C15
	h ^= (uint64(c)<<32 | uint64(d)) + 0x632BE59BD9B4E019 + h<<6 + h>>2
	h ^= h >> 31
	h *= 0xBF58476D1CE4E5B9
	return h ^ h>>29
}

// cacheSlot is a cheap hash of a composite key for the direct-mapped
// caches: use its top bits. Two independent multiplies, no avalanche; a
// poor spread only costs cache misses, never wrong answers.
func cacheSlot(a, b, c, d uint32) uint64 {
	return (uint64(a)<<32|uint64(b))*0x9E3779B97F4A7C15 + (uint64(c)<<32|uint64(d))*0xC2B2AE3D27D4EB4F
}

func (l *Ledger) addCell(k cellKey, size uint64) {
	c := l.cell(k)
	c.n++
	c.bytes += size
}

// openCell returns the cOpen cell of the blocks of tk (whose state is s)
// allocated in bin a.
func (l *Ledger) openCell(s *tkState, tk, a uint32) *cell {
	if s.openA == a {
		return &l.cellVals[s.openCell]
	}
	return l.openCellMiss(s, tk, a)
}

// openCellMiss is openCell when s does not hold the cell: it looks it up
// (or creates it) and keeps it in s.
func (l *Ledger) openCellMiss(s *tkState, tk, a uint32) *cell {
	i := l.cellIndex(cellKey{tk: tk, a: a, cls: cOpen})
	s.openA, s.openCell = a, i
	return &l.cellVals[i]
}

// noBin is a bin number no op reaches (bins are below MaxBinsLimit).
const noBin = ^uint32(0)

// noFreedAF is an empty tkState.freedAF.
const noFreedAF = uint64(noBin) << 32

// freedCell returns the cFreed cell of the blocks of tk (whose state is s)
// allocated in bin a and freed in bin f, given as af = a<<32 | f (small
// enough to inline).
func (l *Ledger) freedCell(s *tkState, tk uint32, af uint64) *cell {
	if s.freedAF == af {
		return &l.cellVals[s.freedCell]
	}
	return l.freedCellMiss(s, tk, af)
}

// freedCellMiss is freedCell when s does not hold the cell.
func (l *Ledger) freedCellMiss(s *tkState, tk uint32, af uint64) *cell {
	i := l.cellIndex(cellKey{tk: tk, a: uint32(af >> 32), f: uint32(af), cls: cFreed})
	s.freedAF, s.freedCell = af, i
	return &l.cellVals[i]
}

func (l *Ledger) tkIndex(tag Tag, kind Kind) uint32 {
	key := uint64(tag)<<8 | uint64(kind)
	cs := &l.tkCache[(key*0x9E3779B97F4A7C15)>>(64-tkCacheBits)]
	if j := *cs; j != 0 && l.tks[j-1].tag == tag && l.tks[j-1].kind == kind {
		return j - 1
	}
	if i, ok := l.tkIdx[key]; ok {
		*cs = i + 1
		return i
	}
	i := uint32(len(l.tks))
	*cs = i + 1
	l.tks = append(l.tks, tkState{tag: tag, kind: kind, openA: noBin, freedAF: noFreedAF})
	if len(l.windows) > 0 {
		l.tks[i].win = make([]classCounters, len(l.windows))
	}
	l.tkIdx[key] = i
	return i
}

// groupIndex returns the group of an allocation, adding its (tag, kind)
// and its group on first sight. The cache is keyed by the tag and kind
// themselves, so that a hit costs one probe (no tkIndex).
func (l *Ledger) groupIndex(tag Tag, kind Kind, stack StackID, key uint64, pid uint32) uint32 {
	k := uint32(key) ^ uint32(key>>32)
	cs := &l.groupCache[cacheSlot(uint32(tag), pid, uint32(stack)^uint32(kind)<<30, k)>>(64-groupCacheBits)]
	if j := *cs; j != 0 {
		if g := &l.groups[j-1]; g.pid == pid && g.stack == stack && g.key == key {
			if s := &l.tks[g.tk]; s.tag == tag && s.kind == kind {
				return j - 1
			}
		}
	}
	g := l.groupMiss(tag, kind, stack, key, pid)
	*cs = g + 1
	return g
}

// groupMiss is groupIndex when its cache does not hold the group: the
// lookup through tkIndex and groupIdx, adding what is new. Out of line,
// so that the hit path of groupIndex saves no registers.
func (l *Ledger) groupMiss(tag Tag, kind Kind, stack StackID, key uint64, pid uint32) uint32 {
	tk := l.tkIndex(tag, kind)
	h := hashKey(tk, pid, uint32(stack), uint32(key)^uint32(key>>32))
	first := l.groupIdx[h]
	for j := first; j != 0; j = l.groups[j-1].next {
		if g := &l.groups[j-1]; g.tk == tk && g.pid == pid && g.stack == stack && g.key == key {
			return j - 1
		}
	}
	i := uint32(len(l.groups))
	l.groups = append(l.groups, group{tk: tk, pid: pid, stack: stack, key: key, next: first})
	l.groupIdx[h] = i + 1
	return i
}

// space returns the address space of op: regular pool, or the session pool
// of op.SessionID. With create false it may return nil.
func (l *Ledger) space(op *Op, create bool) *blockTable {
	if !op.Session {
		return &l.regular
	}
	if l.lastSession != nil && l.lastSID == op.SessionID {
		return l.lastSession
	}
	m := l.sessions[op.SessionID]
	if m == nil && create {
		m = new(blockTable)
		l.sessions[op.SessionID] = m
	}
	if m != nil {
		l.lastSession, l.lastSID = m, op.SessionID
	}
	return m
}

// Apply feeds one pool event to the ledger. Ops must come in timestamp order
// across processors (as a trace reader's merged stream does). An op earlier
// than the previous one is applied at the previous op's time and counted in
// [Anomalies.OutOfOrder]; so is an op earlier than [Options.Start]. Ops with
// an invalid Kind are counted in [Anomalies.InvalidOps] and ignored.
//
// Apply does not allocate in steady state: frees never allocate, and allocs
// allocate only for a new (tag, pool kind, stack, pid) combination, a new
// time bin, table growth, or a block of 4 GiB or more (kept in a map).
func (l *Ledger) Apply(op *Op) {
	if op.Kind-Alloc > Free-Alloc { // neither Alloc nor Free
		l.anom.InvalidOps++
		return
	}
	// The common case of advance, inline: an op in order in the current
	// bin. binW is 0 until the first op, after coarsen and once the
	// histogram is full (see cellIndex), which all take advance.
	t, bin := op.Time, l.binCur
	if d := uint64(t) - uint64(l.start); t >= l.last && d-l.binLo < l.binW {
		l.last = t
	} else {
		t, bin = l.advance(t)
	}
	switch {
	case op.Kind == Free:
		l.free(op, t, bin)
	case l.hasPID && op.PID != l.pid:
		l.foreignAlloc(op, t, bin)
	default:
		l.poolEvents++
		l.alloc(op, t, bin)
	}
}

func (l *Ledger) alloc(op *Op, t int64, bin uint32) {
	stack := op.Stack
	if stack != NoStack && !l.stacks.valid(stack) {
		l.anom.UnknownStack++
		stack = NoStack
	}
	g := l.groupIndex(op.Tag, KindOf(op.Type, op.Session), stack, op.Key, op.PID)
	m := l.space(op, true)
	s, found := m.slot(op.Entry, g)
	if found && s.group() != foreignGroup {
		l.replace(m, s, bin)
	}
	m.set(s, t, op.Size, g)
	// The group's counters after the calls, so that fewer values live
	// across them. No group or (tag, kind) is added below, so gr and ts
	// stay valid.
	gr := &l.groups[g]
	tk := gr.tk
	ts := &l.tks[tk]
	if Type(op.Type).IsBigPool() {
		ts.bigPool++
	}
	gr.allocs++
	gr.bytesA += op.Size
	gr.outN++
	gr.outBytes += op.Size
	c := l.openCell(ts, tk, bin)
	c.n++
	c.bytes += op.Size
	if len(l.windows) > 0 {
		l.allocWindows(ts, t, op.Size)
	}
}

// allocWindows counts an allocation of size bytes at time t in the
// declared windows of its tk, whose state is ts.
func (l *Ledger) allocWindows(ts *tkState, t int64, size uint64) {
	for i, w := range l.windows {
		if t >= w.End {
			continue
		}
		c := &ts.win[i]
		if t >= w.Start {
			c.allocs++
			c.bAllocs += size
			c.aifo++
			c.bAIFO += size
		} else {
			c.aofo++
			c.bAOFO += size
		}
	}
}

// replace closes an open block overwritten by a new allocation at the same
// address: freed at an unknown time, so neither freed nor outstanding.
// The block is in slot old of m.
func (l *Ledger) replace(m *blockTable, old *blockSlot, bin uint32) {
	l.anom.AllocOverOpenBlock++
	gr := &l.groups[old.group()]
	size, at := m.sizeOf(old), old.time
	gr.replaced++
	gr.outN--
	gr.outBytes -= size
	ab := l.binOf(at)
	c := l.openCell(&l.tks[gr.tk], gr.tk, ab)
	c.n--
	c.bytes -= size
	l.addCell(cellKey{tk: gr.tk, a: ab, f: bin, cls: cReplaced}, size)
	for i, w := range l.windows {
		if at >= w.End {
			continue
		}
		c := &l.tks[gr.tk].win[i]
		if at >= w.Start {
			c.aifo--
			c.bAIFO -= size
		} else {
			c.aofo--
			c.bAOFO -= size
		}
	}
}

// foreignGroup marks the block slot of an allocation that [Options.PID]
// leaves out: it holds its address until freed, and counts nowhere.
// Group indexes stay below it (2^32-2 groups would take 300 GB).
const foreignGroup = ^uint32(0) - 1

// foreignAlloc records an allocation of another process than
// [Options.PID]. A block of PID open at the same address lost its free
// (as in alloc).
func (l *Ledger) foreignAlloc(op *Op, t int64, bin uint32) {
	m := l.space(op, true)
	s, found := m.slot(op.Entry, foreignGroup)
	if found && s.group() != foreignGroup {
		l.replace(m, s, bin)
	}
	m.set(s, t, op.Size, foreignGroup)
}

// Applied returns the number of alloc and free ops counted so far
// ([TraceInfo.PoolEvents]); an op [Options.PID] leaves out does not
// change it.
func (l *Ledger) Applied() uint64 { return l.poolEvents }

func (l *Ledger) free(op *Op, t int64, bin uint32) {
	var (
		at    int64  // allocation time
		size  uint64 // allocation size
		g     uint32
		found bool
	)
	if m := l.space(op, false); m != nil {
		at, size, g, found = m.remove(op.Entry)
	}
	if l.hasPID && (!found || g == foreignGroup) {
		return // not a block of the process: not its free
	}
	l.poolEvents++
	if !found {
		l.unmatchedFree(op, t, bin)
		return
	}
	gr := &l.groups[g]
	tk := gr.tk
	ts := &l.tks[tk]
	if ts.tag != op.Tag {
		l.anom.TagMismatch++
	}
	gr.bytesF += size
	gr.outN--
	gr.outBytes -= size
	ab := l.binOf(at)
	c := l.openCell(ts, tk, ab)
	c.n--
	c.bytes -= size
	c = l.freedCell(ts, tk, uint64(ab)<<32|uint64(bin))
	c.n++
	c.bytes += size
	if len(l.windows) > 0 {
		l.freeWindows(ts, t, at, size)
	}
}

// freeWindows counts the free at time t of a block of size bytes
// allocated at time at in the declared windows of its tk, whose state is
// ts.
func (l *Ledger) freeWindows(ts *tkState, t, at int64, size uint64) {
	for i, w := range l.windows {
		c := &ts.win[i]
		if t >= w.Start && t < w.End {
			c.frees++
			c.bFrees += size
		}
		if at >= w.End || t >= w.End {
			continue // allocated after the window, or still outstanding at its end
		}
		if at >= w.Start {
			c.aifo--
			c.bAIFO -= size
			c.aifi++
			c.bAIFI += size
		} else {
			c.aofo--
			c.bAOFO -= size
			if t >= w.Start {
				c.aofi++
				c.bAOFI += size
			}
		}
	}
}

// unmatchedFree counts a free without an open block (out of line: rare).
func (l *Ledger) unmatchedFree(op *Op, t int64, bin uint32) {
	l.anom.FreeWithoutAlloc++
	tk := l.tkIndex(op.Tag, KindOf(op.Type, op.Session))
	s := &l.tks[tk]
	s.unmatched++
	s.unmBytes += op.Size
	l.addCell(cellKey{tk: tk, f: bin, cls: cUnmatched}, op.Size)
	for i, w := range l.windows {
		if t >= w.Start && t < w.End {
			c := &s.win[i]
			c.frees++
			c.bFrees += op.Size
			c.aofi++
			c.bAOFI += op.Size
		}
	}
}

// OpenBlocks returns the number of blocks currently open.
func (l *Ledger) OpenBlocks() int {
	n := l.regular.n
	for _, m := range l.sessions {
		n += m.n
	}
	return n
}
