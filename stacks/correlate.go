package stacks

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"slices"

	"github.com/etwkit/etwkit/etw"
)

// StackID identifies a stack interned by a [Correlator]: the same process
// (for user frames) and the same kernel and user parts give the same ID.
// 0 means "no stack".
type StackID uint32

// NoStack is the StackID of an event without a stack.
const NoStack StackID = 0

// partKind says how a stack part was given.
type partKind uint8

const (
	partNone   partKind = iota
	partFrames          // literal frames
	partKey             // a stack-key reference, resolved by a later definition
)

// part is the kernel or the user half of a stack.
type part struct {
	kind partKind
	id   uint32 // frames id (partFrames) or key reference id (partKey)
}

type stackKey struct {
	pid          etw.PID
	kernel, user part
}

// keyRef is a reference to a cached stack: key value, table and the
// generation of that key at the time of the reference.
type keyRef struct {
	kernel bool
	key    uint64
	gen    uint32
}

// Options configure a [Correlator].
type Options struct {
	// Want selects the events that wait for their stacks and are passed to
	// Emit. Nil selects every event that is not itself a StackWalk record.
	Want func(ev *etw.Event) bool
	// Emit receives each wanted event with its stack, in the order the
	// events were fed. The event is owned by the correlator and valid only
	// during the call; it is nil for events added with
	// [Correlator.Await].
	Emit func(ev *etw.Event, id StackID)
	// Wait is how long (raw ticks) a wanted event waits for a user-mode
	// stack fragment after its kernel fragment, before it is emitted
	// without one. Zero means 1,000,000 ticks, which is 100 ms only at
	// 10 MHz: pass [WaitFor] of the trace's clock for 100 ms at its
	// frequency.
	Wait int64
	// PointerSize of the trace (4 or 8), used to tell kernel from user
	// fragments.
	PointerSize int
	// KeepRecords keeps every attached stack record for Records.
	KeepRecords bool
	// ProcessOf, when set, names the process of a thread at a raw time
	// (see [Modules.ProcessOf]). It attributes a wanted event whose header
	// names no process, and whose stack records do not either, to the
	// process of its thread.
	ProcessOf func(tid etw.TID, ts int64) (etw.PID, bool)
	// Lookahead, when set, holds what a first pass over the trace found
	// (see [Lookahead]): key references then resolve at once even when
	// their definition comes later in the trace, and an event whose
	// user-mode fragment is logged later than Wait waits for it.
	Lookahead *Lookahead
}

// Stats counts what a Correlator saw.
type Stats struct {
	StackRecords   int64 // StackWalk Stack records
	KeyReferences  int64 // StackKeyKernel/StackKeyUser records
	KeyDefinitions int64 // KeyDelete/KeyRundown (and KeyCreate) records
	ExtStacks      int64 // EVENT_HEADER extended-data stacks
	Attached       int64 // stack records and key references attached to a wanted event
	Unattached     int64 // stack records whose event was not wanted or not seen
	Emitted        int64 // wanted events emitted
	WithoutStack   int64 // wanted events emitted without any stack
	KernelOnly     int64 // wanted events emitted with only a kernel part
	Pending        int   // wanted events waiting now
	MaxPending     int   // most wanted events waiting at once
	// Crowded counts the wanted events emitted before their wait was over
	// because too many were waiting (see maxWaiting): a crafted trace
	// whose timestamps stand still, never a real one seen so far.
	Crowded      int64
	ResolvedKeys int64 // key references whose definition arrived (or was known from Options.Lookahead)
	// Wanted events whose header names no process (PERFINFO headers), by
	// where their process came from: their own payload (Image and Process
	// events), their stack records, their thread (through
	// Options.ProcessOf), or nowhere.
	ProcessFromPayload int64
	ProcessFromStack   int64
	ProcessFromThreads int64
	ProcessUnknown     int64
}

// pending is a wanted event waiting for its stack, held in the queue
// itself (48 bytes); its deadline is ts + Options.Wait.
type pending struct {
	ts     int64
	pid    etw.PID
	tid    etw.TID
	kernel part
	user   part
	cpu    uint16
	hasEv  bool
	// weak marks an event that a stack record matches only when no
	// classic kernel event of the same timestamp and thread does
	// (KernelTraceControl records, which xperf logs next to the Image
	// event they describe).
	weak bool
	// from says where pid and tid came from when the header had none.
	pidFrom, tidFrom Source
	// ev holds a copy of the event when hasEv. The buffer stays with its
	// queue slot for the next event queued there.
	ev *etw.Event
}

// An event is matched to its stack records by timestamp and thread, and
// for the idle threads (thread 0, one per processor) by processor too. The
// waiting events are found in the queue itself, which is in timestamp
// order: stack records mostly follow their event closely, so the tail is
// looked at first, then the timestamps are binary-searched.

// matches reports whether p is the event a stack record of thread tid
// logged on processor cpu belongs to. An event whose thread is unknown
// (a PERFINFO header, and no thread in its payload) matches by processor:
// the kernel logs the stack walk on the processor of its event.
func (p *pending) matches(tid etw.TID, cpu uint16) bool {
	if p.tid == etw.NoTID {
		return p.cpu == cpu
	}
	return p.tid == tid && (tid != 0 || p.cpu == cpu)
}

// lookup returns the first waiting event with timestamp ts of thread tid
// (and processor cpu for thread 0, or for events of unknown thread), or
// nil. An event of that very thread is preferred to one of unknown thread,
// and a classic kernel event to a weak one (see pending).
func (c *Correlator) lookup(ts int64, tid etw.TID, cpu uint16) *pending {
	if n := len(c.qts); !c.unsorted && n > c.head && c.qts[n-1] == ts && (n-1 == c.head || c.qts[n-2] < ts) {
		// The latest event is the only one waiting at ts: the search
		// below would look at it alone. Most stack records are for the
		// event logged just before them (on the generated scale traces,
		// every user part of the stack-key shape and about 80% of the full
		// shape's).
		if p := &c.queue[n-1]; p.matches(tid, cpu) {
			return p
		}
		return nil
	}
	q, qts := c.queue[c.head:len(c.qts)], c.qts[c.head:]
	n := len(qts)
	i, end := n, n
	if c.unsorted {
		// Among the latest maxScan events only.
		i = max(0, n-maxScan)
		for i < n && qts[i] != ts {
			i++
		}
	} else {
		for k := 0; k < 8 && i > 0 && qts[i-1] >= ts; k++ {
			i--
		}
		if i > 0 && qts[i-1] >= ts {
			i, _ = slices.BinarySearch(qts, ts)
		}
		if n-i > maxScan && qts[i+maxScan] == ts {
			// More than maxScan events of timestamp ts: the latest of
			// them, as a stack record follows its event closely.
			if ts < math.MaxInt64 {
				end, _ = slices.BinarySearch(qts, ts+1)
			}
			i = end - maxScan
		}
	}
	var fallback *pending
	for ; i < end; i++ {
		if qts[i] != ts {
			if !c.unsorted {
				break
			}
			continue
		}
		if p := &q[i]; p.matches(tid, cpu) {
			if !p.weak && p.tid != etw.NoTID {
				return p
			}
			if fallback == nil {
				fallback = p
			}
		}
	}
	return fallback
}

// adopt gives p the process and thread a stack record names, where its
// header named none.
func (p *pending) adopt(pid etw.PID, tid etw.TID) {
	if p.tid == etw.NoTID && tid != etw.NoTID {
		p.tid, p.tidFrom = tid, SourceStack
	}
	if p.pid == etw.NoPID && pid != etw.NoPID {
		p.pid, p.pidFrom = pid, SourceStack
	}
}

// touched notes that a part was attached to p, which may complete the head
// of the queue.
func (c *Correlator) touched(p *pending) {
	if c.head < len(c.queue) && p == &c.queue[c.head] {
		c.headDirty = true
	}
}

// Correlator attaches StackWalk records (Stack, StackKeyKernel,
// StackKeyUser) and EVENT_HEADER extended-data stacks to the events they
// belong to, resolves stack keys with the KeyDelete / KeyRundown
// definitions, and interns the resulting stacks. It is a push consumer:
// feed every event of the trace in time order to [Correlator.Event], then
// call [Correlator.Finish].
//
// A stack record belongs to the event whose raw timestamp equals its
// EventTimeStamp and whose thread equals its StackThread. The kernel
// fragment follows its event at once; a user fragment can come later, so a
// wanted event waits (at most Options.Wait ticks) until both are there.
// Events are emitted in the order they were fed, so a consumer such as a
// pool ledger sees them in time order. Memory is bounded by the events of
// that waiting window (at most 262,144 of them: past that the oldest goes
// out without waiting longer, see Stats.Crowded) plus the interned
// stacks.
//
// Stack keys name stacks that the kernel caches; their frames arrive with
// the key's KeyDelete (on eviction) or KeyRundown (at the end of the trace)
// definition. A key reference gets a StackID at once, and its frames become
// available from [Correlator.Frames] when the definition arrives. A key can
// be reused after its KeyDelete, so references are tied to a generation.
type Correlator struct {
	opts Options
	// queue is the FIFO of wanted events, from head on; the slots before
	// head are free, and are reused once the queue empties or is moved
	// down. A *pending into it is valid until the next event is queued.
	queue    []pending
	head     int
	qts      []int64 // timestamps of queue, for lookups
	unsorted bool    // events were fed out of time order
	// atOnce holds the parts of attachesAtOnce that do not depend on the
	// event: events fed in order so far, a positive wait, no records kept.
	atOnce bool
	// userSeen holds, per thread, the latest event timestamp that got a
	// user-mode stack part.
	userSeen threadTimes

	headDeadline int64 // of the head of the queue; the largest int64 when empty
	headDirty    bool  // the head got a fragment since it was last checked

	seed      maphash.Seed
	frames    [][]uint64             // interned frame lists, id = index+1
	lastFrame []uint64               // id-1 -> the list's last frame, which tells kernel from user fragments
	frameIdx  map[uint64][]uint32    // hash -> frame ids
	stacks    []stackKey             // id-1 -> key
	stackIdx  map[uint64]StackID     // stackKey.hash → first StackID with that hash
	stackNext []StackID              // next StackID with the same hash, per StackID
	keyRefs   []keyRef               // id-1 -> reference (key, table, generation)
	refDef    []uint32               // id-1 -> frames id of its definition, 0 while undefined
	keys      [2]map[uint64]keyState // per table (0 user, 1 kernel) and key
	keyCache  [keyCacheSize]keyCacheEntry
	stackHot  [stackCacheSize]hotStack // recently interned stacks, by stackKey.hotSlot
	// kernelOnly are the stacks of a kernel part alone, by frames id
	// ([0]) or key reference id ([1]); 0 = not interned yet.
	kernelOnly [2][]StackID
	firstTS    []int64   // first event timestamp per StackID
	pidOf      []etw.PID // process per StackID
	scratch    []uint64
	records    []recordRef
	stats      Stats
	now        int64
	// cur is the queue index + 1 of the event being emitted, for
	// Attributed; 0 for none. An index rather than a pointer: storing it
	// twice per event then costs no write barrier.
	cur int
}

// NewCorrelator returns a Correlator.
func NewCorrelator(opts Options) *Correlator {
	if opts.PointerSize == 0 {
		opts.PointerSize = 8
	}
	if opts.Wait == 0 {
		opts.Wait = defaultWait
	}
	return &Correlator{
		opts:         opts,
		atOnce:       opts.Wait > 0 && !opts.KeepRecords,
		headDeadline: 1<<63 - 1,
		seed:         maphash.MakeSeed(),
		frameIdx:     map[uint64][]uint32{},
		stackIdx:     map[uint64]StackID{},
		keys:         [2]map[uint64]keyState{{}, {}},
	}
}

// defaultWait is Options.Wait when it is zero.
const defaultWait = 1_000_000

// WaitFor returns the default wait of 100 ms for a clock.
func WaitFor(c *etw.Clock) int64 {
	if c == nil || c.Frequency <= 0 {
		return 1_000_000
	}
	return c.Frequency / 10
}

// Stats returns the counters so far.
func (c *Correlator) Stats() Stats {
	s := c.stats
	s.Pending = len(c.queue) - c.head
	return s
}

func (c *Correlator) wanted(ev *etw.Event) bool {
	if c.opts.Want != nil {
		return c.opts.Want(ev)
	}
	return !(ev.IsKernel() && ev.Group() == etw.GroupStackWalk)
}

// Uses reports whether [Correlator.Event] would do more with ev than note
// the time: StackWalk records and wanted events. A caller that filters a
// stream may pass only these, and call [Correlator.Advance] with the
// timestamp of the last event it left out before the next one it passes.
// It reads nothing but ev and the options, so it may be called from
// another goroutine than the one feeding the correlator.
func (c *Correlator) Uses(ev *etw.Event) bool {
	return ev.Provider == etw.StackWalkGUID || c.wanted(ev)
}

// Advance tells the correlator that the trace has reached raw time ts
// without an event it uses (see [Correlator.Uses]); waiting events whose
// wait has ended are emitted. A live consumer may also call it from a
// timer with the current time.
func (c *Correlator) Advance(ts int64) {
	if ts < c.now {
		return
	}
	c.now = ts
	c.releaseDue()
}

// releaseDue releases the head of the queue when it got a fragment or its
// deadline passed: only the head can be released.
func (c *Correlator) releaseDue() {
	if c.head < len(c.queue) && (c.headDirty || c.now >= c.headDeadline) {
		c.release(false)
	}
}

// Event feeds one event. Events must come in time order.
func (c *Correlator) Event(ev *etw.Event) {
	c.now = ev.Timestamp
	if ev.Provider == etw.StackWalkGUID {
		c.stackWalk(ev)
	} else if c.wanted(ev) {
		p := c.alloc()
		if p.ev == nil {
			p.ev = new(etw.Event)
		}
		ev.CloneInto(p.ev)
		p.hasEv = true
		p.weak = ev.Provider == etw.KernelTraceControlGUID
		if xs, ok := ev.ExtStack(); ok {
			c.stats.ExtStacks++
			c.attachExt(p, xs)
		}
		tid := ThreadOf(ev)
		if ev.TID == etw.NoTID && tid != etw.NoTID {
			p.tidFrom = SourcePayload
		}
		pid := ev.PID
		if pid == etw.NoPID {
			if x, ok := processOfPayload(ev); ok {
				pid, p.pidFrom = x, SourcePayload
			}
		}
		c.enqueue(p, ev.Timestamp, pid, tid, ev.Processor)
	}
	c.releaseDue()
}

// Await adds a wanted event known only by its header fields: raw
// timestamp, process, thread (as [ThreadOf] gives it) and processor. It
// waits for its stack like an event fed to [Correlator.Event] and wanted,
// and is emitted in feed order with a nil event. A caller that decodes
// its events itself (a pool ledger keeping its own queue of decoded
// events) saves the correlator a copy of each; events with extended-data
// stacks must go through Event.
func (c *Correlator) Await(ts int64, pid etw.PID, tid etw.TID, cpu uint16) {
	c.now = ts
	p := c.alloc()
	p.hasEv = false
	c.enqueue(p, ts, pid, tid, cpu)
	c.releaseDue()
}

// AwaitKernelKey is [Correlator.Await] for an event followed at once by
// its StackKeyKernel record k (logged at raw time keyTS on the same
// processor), then [Correlator.KeyReference] for k: the pair most pool
// events come in. When k names this event (its timestamp, and its thread
// or, for an event of unknown thread such as a PERFINFO-headed one, any
// thread: the search matches such an event by processor) and no earlier
// waiting event has its timestamp, the reference is attached without a
// search; the outcome is the same either way.
func (c *Correlator) AwaitKernelKey(ts int64, pid etw.PID, tid etw.TID, cpu uint16, k *etw.StackKey, keyTS int64) {
	// Every path but the common one (attached at once, the key in the key
	// cache) is a call in tail position, so that no argument needs saving.
	if !k.Kernel || k.EventTimeStamp != ts || k.Thread != tid && tid != etw.NoTID || !c.attachesAtOnce(ts, keyTS) {
		c.awaitKernelKeySearch(ts, pid, tid, cpu, k, keyTS)
		return
	}
	e := &c.keyCache[keySlot(true, k.Key)]
	if e.ref == 0 || e.key != k.Key || !e.kernel {
		c.awaitKernelKeyMiss(ts, pid, tid, cpu, k, keyTS)
		return
	}
	c.stats.KeyReferences++
	p := c.queueWith(ts, pid, tid, cpu, keyTS)
	p.adopt(k.Process, k.Thread)
	p.kernel = part{kind: partKey, id: e.ref}
	c.releaseDue()
}

// awaitKernelKeyMiss is AwaitKernelKey attaching at once a key the key
// cache does not hold.
//
//go:noinline
func (c *Correlator) awaitKernelKeyMiss(ts int64, pid etw.PID, tid etw.TID, cpu uint16, k *etw.StackKey, keyTS int64) {
	c.stats.KeyReferences++
	pt := c.keyPartMiss(true, k.Key)
	p := c.queueWith(ts, pid, tid, cpu, keyTS)
	p.adopt(k.Process, k.Thread)
	p.kernel = pt
	c.releaseDue()
}

// awaitKernelKeySearch is AwaitKernelKey when attachesAtOnce does not
// hold: Await, then the key reference.
//
//go:noinline
func (c *Correlator) awaitKernelKeySearch(ts int64, pid etw.PID, tid etw.TID, cpu uint16, k *etw.StackKey, keyTS int64) {
	c.Await(ts, pid, tid, cpu)
	c.now = keyTS
	c.keyReference(k, cpu, keyTS) // lookup finds the event just queued in one step
	c.releaseDue()
}

// attachesAtOnce reports whether an event at raw time ts, about to be
// queued, is the first waiting one with its timestamp, so that a stack
// record that names it and is logged at partTS can be attached without a
// search, and whether queueWith then does what Await and the attachment
// would do one after the other: events fed in order, the record not
// earlier than its event, a positive wait (the event cannot go out before
// its record) and no records kept.
func (c *Correlator) attachesAtOnce(ts, partTS int64) bool {
	n := len(c.qts)
	return c.atOnce && (n == c.head || c.qts[n-1] < ts) && partTS >= ts
}

// queueWith is the Await part of AwaitKernelKey and AwaitStack when the
// stack record logged at raw time partTS that names the event attaches at
// once (the caller has checked attachesAtOnce and counted the record): it
// queues the event at raw time ts, counts the attachment and returns the
// event's slot. The caller then gives the slot the record's process,
// thread and part, and releases the events due once instead of twice
// (whatever the first release would have emitted, the second emits as
// well, in the same order). The caller does that itself, so that this
// call, the path of most pool events, has few arguments.
func (c *Correlator) queueWith(ts int64, pid etw.PID, tid etw.TID, cpu uint16, partTS int64) *pending {
	// As alloc and enqueue, with the growth out of line.
	i, j := len(c.queue), len(c.qts)
	if i == cap(c.queue) || j == cap(c.qts) {
		c.growQueue()
	}
	c.queue, c.qts = c.queue[:i+1], c.qts[:j+1]
	c.qts[j] = ts
	p := &c.queue[i]
	p.ts, p.pid, p.tid, p.cpu = ts, pid, tid, cpu
	p.kernel, p.user = part{}, part{}
	p.hasEv, p.weak, p.pidFrom, p.tidFrom = false, false, SourceNone, SourceNone
	n := i + 1 - c.head
	if n > c.stats.MaxPending {
		c.stats.MaxPending = n
	}
	// As enqueue, behind one comparison with a constant for the common case.
	if n >= min(maxWaiting+1, maxHeldForLate) && (n > maxWaiting || c.opts.Lookahead != nil && n >= maxHeldForLate) {
		c.headDirty = true
	}
	if n == 1 {
		// The event is the head, and gets a fragment from the caller.
		c.headDeadline, c.headDirty = ts+c.opts.Wait, true
	}
	c.now = partTS
	c.stats.Attached++
	return p
}

// growQueue makes room in the queue for one more event.
//
//go:noinline
func (c *Correlator) growQueue() {
	c.queue = slices.Grow(c.queue, 1)
	c.qts = slices.Grow(c.qts, 1)
}

// enqueue appends a wanted event to the queue.
func (c *Correlator) enqueue(p *pending, ts int64, pid etw.PID, tid etw.TID, cpu uint16) {
	p.ts, p.pid, p.tid, p.cpu = ts, pid, tid, cpu
	if n := len(c.qts); n > c.head && c.qts[n-1] > ts {
		c.unsorted = true // fed out of time order: lookups scan
		c.atOnce = false
	}
	c.qts = append(c.qts, ts)
	n := len(c.queue) - c.head
	if n > c.stats.MaxPending {
		c.stats.MaxPending = n
	}
	if n > maxWaiting || c.opts.Lookahead != nil && n >= maxHeldForLate {
		// The head goes out now, or may be held for a late fragment.
		c.headDirty = true
	}
	if n == 1 {
		c.setHead()
	}
}

// setHead caches the head of the queue.
func (c *Correlator) setHead() {
	c.headDirty = false
	if c.head < len(c.queue) {
		h := &c.queue[c.head]
		c.headDeadline = h.ts + c.opts.Wait
		c.headDirty = c.complete(h)
		return
	}
	c.headDeadline = 1<<63 - 1
}

// alloc adds a slot at the tail of the queue for an event that enqueue
// then completes.
func (c *Correlator) alloc() *pending {
	n := len(c.queue)
	if n < cap(c.queue) {
		c.queue = c.queue[:n+1]
	} else {
		c.queue = append(c.queue, pending{})
	}
	p := &c.queue[n]
	p.kernel, p.user = part{}, part{}
	p.weak, p.pidFrom, p.tidFrom = false, SourceNone, SourceNone
	return p
}

// Finish emits every event still waiting. Key references whose definition
// never arrived keep their StackID, with no frames for that part.
func (c *Correlator) Finish() { c.release(true) }

// release emits wanted events from the head of the queue while they are
// complete or past their deadline.
func (c *Correlator) release(all bool) {
	emitted := false
	// waits is set when the loop stops at a head that is not complete and
	// whose wait is not over: what setHead would find again.
	waits := false
	for c.head < len(c.queue) {
		p := &c.queue[c.head]
		if !all && !c.complete(p) {
			crowded := len(c.queue)-c.head > maxWaiting
			if c.now < p.ts+c.opts.Wait && !crowded {
				waits = true
				break
			}
			if crowded {
				c.stats.Crowded++
			} else if at, ok := c.opts.Lookahead.lateUser(p.ts, p.tid); ok && at >= c.now && len(c.queue)-c.head < maxHeldForLate {
				// The first pass saw its user fragment come late; the
				// events behind it wait too, up to a bound.
				c.headDeadline = at + 1
				break
			}
		}
		c.head++
		if p.pid == etw.NoPID || p.pidFrom != SourceNone {
			c.attribute(p)
		}
		// intern, its common case inline: a kernel part alone, seen before.
		id := NoStack
		if p.user.kind == partNone && p.kernel.kind != partNone {
			if tab := c.kernelOnly[(p.kernel.kind-partFrames)&1]; int(p.kernel.id) < len(tab) {
				id = tab[p.kernel.id]
			}
		}
		if id == NoStack {
			id = c.intern(p)
		}
		switch {
		case id == NoStack:
			c.stats.WithoutStack++
		case p.user.kind == partNone:
			c.stats.KernelOnly++
		}
		c.stats.Emitted++
		if c.opts.Emit != nil {
			c.cur = c.head // p is queue[c.head-1]
			if p.hasEv {
				c.opts.Emit(p.ev, id)
			} else {
				c.opts.Emit(nil, id)
			}
			c.cur = 0
		}
		emitted = true
	}
	if !emitted {
		// The head stays, and the loop has just found it incomplete.
		c.headDirty = false
		return
	}
	switch {
	case c.head == len(c.queue):
		c.queue, c.qts, c.head = c.queue[:0], c.qts[:0], 0
	case c.head > 1024 && c.head*2 > len(c.queue):
		// Move the waiting events down. Swapping rather than copying
		// keeps each slot's event buffer (pending.ev) in one slot.
		n := len(c.queue) - c.head
		for i := range n {
			c.queue[i], c.queue[c.head+i] = c.queue[c.head+i], c.queue[i]
		}
		c.queue = c.queue[:n]
		c.qts = c.qts[:copy(c.qts, c.qts[c.head:])]
		c.head = 0
	}
	if waits {
		// setHead, without asking complete again about the head the loop
		// has just found incomplete (nothing changed since).
		c.headDeadline, c.headDirty = c.queue[c.head].ts+c.opts.Wait, false
		return
	}
	c.setHead()
}

// complete reports whether no more fragments are expected for p: it has a
// user part, or a kernel part and a process without user mode (Idle,
// System).
func (c *Correlator) complete(p *pending) bool {
	// p.pid|4 == 4: process 0 (Idle) or 4 (System).
	return p.user.kind != partNone || p.kernel.kind != partNone && (p.pid|4 == 4 || c.userAfter(p))
}

// userAfter reports whether a later event of p's thread got a user part.
// The kernel logs the deferred user-mode stacks of a thread's events when
// the thread returns to user mode, in order; once a later event of the
// thread got its user part, none will come for p. It is kept out of line
// so that complete inlines, and looks the thread up itself (find inlines,
// get does not): a call less for most events released.
//
//go:noinline
func (c *Correlator) userAfter(p *pending) bool {
	t := &c.userSeen
	if t.n == 0 {
		return false
	}
	i, ok := t.find(p.tid)
	return ok && t.slots[i].val > p.ts
}

// setPart gives p its kernel or its user part; a user part also tells the
// correlator that p's thread is back in user mode (see sawUser).
func (c *Correlator) setPart(p *pending, pt part, kernel bool) {
	if kernel {
		p.kernel = pt
		return
	}
	p.user = pt
	c.sawUser(p.tid, p.ts)
}

// sawUser notes that an event of thread tid at raw time ts got a user-mode
// stack part.
func (c *Correlator) sawUser(tid etw.TID, ts int64) {
	// The table is cleared when full, to bound memory on traces with
	// endless thread ids.
	if c.userSeen.raise(tid, ts, maxThreadsTracked) {
		c.headDirty = c.head < len(c.queue)
	}
}

// maxWaiting bounds the wanted events waiting for their stacks. Real
// traces hold the events of the last Options.Wait ticks at most (tens to
// thousands; 26 to 31 on average on the generated scale traces); a trace
// whose timestamps stand still would hold every event, and with them the
// pool ops a pipeline queues beside them. Past the bound the oldest goes
// out with the stack it has (Stats.Crowded counts them).
const maxWaiting = 1 << 18

// maxScan bounds the waiting events a stack record is compared with: the
// events of its timestamp (the latest maxScan of them), or when events
// were fed out of time order the latest ones. Real traces have a few
// events of one timestamp; a crafted one with thousands waiting at one
// timestamp would otherwise make every stack record compare with all of
// them.
const maxScan = 1 << 12

// maxHeldForLate bounds the waiting events held back behind an event whose
// user fragment a Lookahead says comes later than the wait (a thread that
// returns to user mode long after its event): past it, the event goes
// without that fragment.
const maxHeldForLate = 1 << 18

// maxThreadsTracked bounds the per-thread state of the correlator.
const maxThreadsTracked = 1 << 16

func (c *Correlator) stackWalk(ev *etw.Event) {
	switch ev.Opcode {
	case etw.StackWalkStack:
		c.stats.StackRecords++
		s, err := etw.DecodeStack(ev)
		if err != nil {
			return
		}
		p := c.lookup(s.EventTimeStamp, s.Thread, ev.Processor)
		if p == nil {
			c.stats.Unattached++
			return
		}
		c.stats.Attached++
		p.adopt(s.Process, s.Thread)
		c.scratch = s.AppendFrames(c.scratch[:0])
		pt := c.attachFrames(p, c.scratch, ev.PointerSize())
		c.touched(p)
		c.record(ev, s.EventTimeStamp, s.Process, s.Thread, pt)
	case etw.StackWalkStackKeyKernel, etw.StackWalkStackKeyUser:
		k, err := etw.DecodeStackKey(ev)
		if err != nil {
			c.stats.KeyReferences++
			return
		}
		c.keyReference(&k, ev.Processor, ev.Timestamp)
	case etw.StackWalkKeyCreate, etw.StackWalkKeyDelete, etw.StackWalkKeyRundown:
		c.stats.KeyDefinitions++
		var kernel bool
		var key uint64
		var ok bool
		c.scratch, kernel, key, ok = decodeKeyDef(ev, c.scratch[:0])
		if !ok {
			return
		}
		// The definition resolves the references made since the key's
		// previous definition; a later reference to the same key value
		// names a new generation. A definition nobody referenced is not
		// kept.
		tab := c.keys[tableOf(kernel)]
		c.forgetKey(kernel, key)
		st := tab[key]
		if st.ref != 0 && c.refDef[st.ref-1] == 0 {
			c.refDef[st.ref-1] = c.internFrames(c.scratch)
			c.stats.ResolvedKeys++
		}
		tab[key] = keyState{gen: st.gen + 1}
	}
}

// decodeKeyDef decodes a KeyCreate, KeyDelete or KeyRundown record into
// its frames (appended to dst), its table (kernel when its last frame is
// a kernel address) and its key.
func decodeKeyDef(ev *etw.Event, dst []uint64) (frames []uint64, kernel bool, key uint64, ok bool) {
	d, err := etw.DecodeStackKeyDef(ev)
	if err != nil || d.Len() == 0 {
		return dst, false, 0, false
	}
	dst = d.AppendFrames(dst)
	return dst, IsKernelAddress(dst[len(dst)-1], ev.PointerSize()), d.Key, true
}

// KeyReference takes a decoded StackKeyKernel or StackKeyUser record,
// logged at raw time ts on processor cpu, as [Correlator.Event] would take
// the record itself. Callers that decode records on their own (see
// [Correlator.Await]) use it. k is not kept.
func (c *Correlator) KeyReference(k *etw.StackKey, cpu uint16, ts int64) {
	c.now = ts
	c.keyReference(k, cpu, ts)
	c.releaseDue()
}

func (c *Correlator) keyReference(k *etw.StackKey, cpu uint16, ts int64) {
	c.stats.KeyReferences++
	p := c.lookup(k.EventTimeStamp, k.Thread, cpu)
	if p == nil {
		c.stats.Unattached++
		return
	}
	c.attachKey(p, k, cpu, ts)
}

// attachKey attaches a key reference to the waiting event p it belongs to.
func (c *Correlator) attachKey(p *pending, k *etw.StackKey, cpu uint16, ts int64) {
	c.stats.Attached++
	p.adopt(k.Process, k.Thread)
	pt := c.keyPart(k.Kernel, k.Key)
	c.setPart(p, pt, k.Kernel)
	c.touched(p)
	if c.opts.KeepRecords {
		op := etw.StackWalkStackKeyUser
		if k.Kernel {
			op = etw.StackWalkStackKeyKernel
		}
		c.records = append(c.records, recordRef{opcode: op, ts: k.EventTimeStamp, recordTS: ts, pid: k.Process, tid: k.Thread, cpu: cpu, p: pt})
	}
}

func tableOf(kernel bool) int {
	if kernel {
		return 1
	}
	return 0
}

// keyState is the current generation of a stack key and the reference ID
// given to it in that generation (0 before the first reference).
type keyState struct {
	gen uint32
	ref uint32
}

func (c *Correlator) keyPart(kernel bool, key uint64) part {
	if e := &c.keyCache[keySlot(kernel, key)]; e.ref != 0 && e.key == key && e.kernel == kernel {
		return part{kind: partKey, id: e.ref}
	}
	return c.keyPartMiss(kernel, key)
}

// keyPartMiss is keyPart when the key cache does not hold the key.
func (c *Correlator) keyPartMiss(kernel bool, key uint64) part {
	e := &c.keyCache[keySlot(kernel, key)]
	tab := c.keys[tableOf(kernel)]
	st := tab[key]
	if st.ref == 0 {
		c.keyRefs = append(c.keyRefs, keyRef{kernel: kernel, key: key, gen: st.gen})
		def := uint32(0)
		if f, ok := c.opts.Lookahead.lookup(kernel, key, st.gen); ok {
			def = c.internFrames(f)
			c.stats.ResolvedKeys++
		}
		c.refDef = append(c.refDef, def)
		st.ref = uint32(len(c.keyRefs))
		tab[key] = st
	}
	*e = keyCacheEntry{key: key, ref: st.ref, kernel: kernel}
	return part{kind: partKey, id: st.ref}
}

// keyCacheEntry caches the reference ID of a stack key in its current
// generation (ref 0: empty). A definition ends the generation and drops
// the entry.
type keyCacheEntry struct {
	key    uint64
	ref    uint32
	kernel bool
}

// keyCacheSize is the number of entries of the key cache (a power of 2):
// a trace refers to a working set of keys over and over.
const keyCacheSize = 512

func keySlot(kernel bool, key uint64) int {
	h := key * 0x9E3779B97F4A7C15
	if kernel {
		h ^= 0x5851F42D4C957F2D
	}
	return int(h>>40) & (keyCacheSize - 1)
}

// forgetKey drops a key from the key cache.
func (c *Correlator) forgetKey(kernel bool, key uint64) {
	if e := &c.keyCache[keySlot(kernel, key)]; e.key == key && e.kernel == kernel {
		*e = keyCacheEntry{}
	}
}

// attachFrames attaches a Stack fragment: kernel when its last frame is a
// kernel address, else user.
func (c *Correlator) attachFrames(p *pending, frames []uint64, ptrSize int) part {
	if len(frames) == 0 {
		return part{}
	}
	if ptrSize == 0 {
		ptrSize = c.opts.PointerSize
	}
	pt := part{kind: partFrames, id: c.internFrames(frames)}
	c.setPart(p, pt, IsKernelAddress(frames[len(frames)-1], ptrSize))
	return pt
}

// record keeps a stack record for Records when Options.KeepRecords is set.
func (c *Correlator) record(ev *etw.Event, ts int64, pid etw.PID, tid etw.TID, pt part) {
	if !c.opts.KeepRecords {
		return
	}
	c.records = append(c.records, recordRef{opcode: ev.Opcode, ts: ts, recordTS: ev.Timestamp, pid: pid, tid: tid, cpu: ev.Processor, p: pt})
}

type recordRef struct {
	opcode   uint8
	ts       int64
	recordTS int64
	pid      etw.PID
	tid      etw.TID
	cpu      uint16
	p        part
}

// Record is one attached stack record (a Stack, or a key reference with its
// definition's frames).
type Record struct {
	Opcode          uint8 // etw.StackWalkStack, StackWalkStackKeyKernel or StackWalkStackKeyUser
	EventTimeStamp  int64
	RecordTimestamp int64
	PID             etw.PID
	TID             etw.TID
	CPU             uint16
	Frames          []uint64 // shared; nil for an unresolved key reference
	Resolved        bool
}

// Records returns every stack record attached so far, in record order,
// when Options.KeepRecords is set. It costs memory per record and is meant
// for diagnostics and tests.
func (c *Correlator) Records() []Record {
	out := make([]Record, len(c.records))
	for i, r := range c.records {
		f, ok := c.resolve(r.p)
		out[i] = Record{Opcode: r.opcode, EventTimeStamp: r.ts, RecordTimestamp: r.recordTS, PID: r.pid, TID: r.tid, CPU: r.cpu, Frames: f, Resolved: ok}
	}
	return out
}

// ThreadOf returns the thread of an event: the header's, or for PERFINFO
// records, which carry none, the thread their payload names (SampledProfile
// 0x0F2E ThreadId, HardFault 0x0220 TThreadId, CSwitch 0x0524
// NewThreadId), else [etw.NoTID].
func ThreadOf(ev *etw.Event) etw.TID {
	if ev.TID != etw.NoTID || !ev.IsKernel() {
		return ev.TID
	}
	p := ev.Payload
	ptr := ev.PointerSize()
	off := -1
	switch ev.Hook {
	case etw.HookSampledProfile: // InstructionPointer, ThreadId
		off = ptr
	case etw.HookHardFault: // InitialTime, ReadOffset, VirtualAddress, FileObject, TThreadId
		off = 16 + 2*ptr
	case 0x0524: // CSwitch: NewThreadId, OldThreadId, ...; the event is the new thread's
		off = 0
	}
	if off >= 0 && off+4 <= len(p) {
		return etw.TID(binary.LittleEndian.Uint32(p[off:]))
	}
	return ev.TID
}

func (c *Correlator) attachExt(p *pending, xs etw.ExtStack) {
	if xs.IsKey {
		// An extended-data stack key names the user-mode cache; it is
		// resolved like StackKeyUser.
		p.user = c.keyPart(false, xs.Key)
		return
	}
	c.scratch = xs.AppendFrames(c.scratch[:0])
	if len(c.scratch) == 0 {
		return
	}
	// An extended-data stack holds both halves when MatchID is 0.
	p.user = part{kind: partFrames, id: c.internFrames(c.scratch)}
}

func (c *Correlator) internFrames(frames []uint64) uint32 {
	sum := hashFrames(c.seed, frames)
	for _, id := range c.frameIdx[sum] {
		if slices.Equal(c.frames[id-1], frames) {
			return id
		}
	}
	var last uint64 // no frame: an empty list reads as a user one
	if len(frames) > 0 {
		last = frames[len(frames)-1]
	}
	c.frames = append(c.frames, slices.Clone(frames))
	c.lastFrame = append(c.lastFrame, last)
	id := uint32(len(c.frames))
	c.frameIdx[sum] = append(c.frameIdx[sum], id)
	return id
}

func (c *Correlator) intern(p *pending) StackID {
	if p.kernel.kind == partNone && p.user.kind == partNone {
		return NoStack
	}
	if p.user.kind == partNone {
		// A kernel part alone names no process: its stack is found by
		// the part's id.
		tab := &c.kernelOnly[p.kernel.kind-partFrames]
		i := int(p.kernel.id)
		if i < len(*tab) && (*tab)[i] != NoStack {
			return (*tab)[i]
		}
		id := c.internKey(stackKey{kernel: p.kernel}, p)
		for len(*tab) <= i {
			*tab = append(*tab, NoStack)
		}
		(*tab)[i] = id
		return id
	}
	return c.internKey(stackKey{pid: p.pid, kernel: p.kernel, user: p.user}, p)
}

// internKey returns the StackID of k, interning it (first seen with p) when
// new.
func (c *Correlator) internKey(k stackKey, p *pending) StackID {
	slot := &c.stackHot[k.hotSlot()]
	if slot.id != NoStack && slot.k == k {
		return slot.id
	}
	h := k.hash()
	first := c.stackIdx[h]
	for id := first; id != NoStack; id = c.stackNext[id-1] {
		if c.stacks[id-1] == k {
			*slot = hotStack{k: k, id: id}
			return id
		}
	}
	c.stacks = append(c.stacks, k)
	c.stackNext = append(c.stackNext, first)
	c.firstTS = append(c.firstTS, p.ts)
	c.pidOf = append(c.pidOf, p.pid)
	id := StackID(len(c.stacks))
	c.stackIdx[h] = id
	*slot = hotStack{k: k, id: id}
	return id
}

// hotStack is an entry of the interned-stack cache: a key and its ID (0:
// empty). Holding the key saves a look into the table of all stacks.
type hotStack struct {
	k  stackKey
	id StackID
}

// stackCacheSize is the number of entries of the interned-stack cache, a
// power of 2 (stackCacheBits bits of stackKey.hotSlot).
const (
	stackCacheBits = 10
	stackCacheSize = 1 << stackCacheBits
)

// hotSlot is the entry of a stack key in the interned-stack cache: two
// multiplies, cheaper than hash; a poor spread costs only misses.
func (k stackKey) hotSlot() int {
	h := (uint64(k.pid)<<32|uint64(k.kernel.id))*0x9E3779B97F4A7C15 + (uint64(k.user.id)<<32|uint64(k.kernel.kind)<<8|uint64(k.user.kind))*0xC2B2AE3D27D4EB4F
	return int(h >> (64 - stackCacheBits))
}

// hash mixes a stack key into a 64-bit map key, so that interning uses the
// runtime's fast 64-bit map path; equal hashes are told apart by comparing
// the stored keys.
func (k stackKey) hash() uint64 {
	h := (uint64(k.pid)<<32 | uint64(k.kernel.id)) * 0x9E3779B97F4A7C15
	h ^= (uint64(k.user.id)<<32 | uint64(k.kernel.kind)<<8 | uint64(k.user.kind)) + 0x632BE59BD9B4E019 + h<<6 + h>>2
	h ^= h >> 31
	h *= 0xBF58476D1CE4E5B9
	return h ^ h>>29
}

// NumStacks returns the number of stacks interned so far (IDs 1..N).
func (c *Correlator) NumStacks() int { return len(c.stacks) }

// Stack is a resolved stack: kernel frames then user frames, innermost
// first.
type Stack struct {
	PID    etw.PID // process of the event the stack was first seen with
	Time   int64   // raw timestamp of that event, to resolve modules at
	Kernel []uint64
	User   []uint64
	// Unresolved reports a key reference whose definition never arrived.
	Unresolved bool
}

// Frames returns all frames, kernel part first. The slice is new.
func (s *Stack) Frames() []uint64 {
	out := make([]uint64, 0, len(s.Kernel)+len(s.User))
	return append(append(out, s.Kernel...), s.User...)
}

// Stack returns the stack with the given ID. Frames of key references
// resolve when their definition has arrived. The slices are shared: do not
// modify them.
func (c *Correlator) Stack(id StackID) Stack {
	if id == NoStack || int(id) > len(c.stacks) {
		return Stack{}
	}
	k := c.stacks[id-1]
	s := Stack{PID: c.pidOf[id-1], Time: c.firstTS[id-1]}
	var ok bool
	s.Kernel, ok = c.resolve(k.kernel)
	s.Unresolved = !ok
	s.User, ok = c.resolve(k.user)
	s.Unresolved = s.Unresolved || !ok
	return s
}

func (c *Correlator) resolve(p part) ([]uint64, bool) {
	switch p.kind {
	case partFrames:
		return c.frames[p.id-1], true
	case partKey:
		if fid := c.refDef[p.id-1]; fid != 0 {
			return c.frames[fid-1], true
		}
		return nil, false
	}
	return nil, true
}
