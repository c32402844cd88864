package etltest

import (
	"iter"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"github.com/etwkit/etwkit/etw"
)

// ScenarioOptions configures a pool-traffic scenario.
type ScenarioOptions struct {
	// Seed makes the scenario deterministic: equal options give equal
	// records.
	Seed uint64
	// PointerSize is 8 (default: Windows 10 x64 with a WOW64 app) or 4 (a
	// 32-bit Windows with a native 32-bit app).
	PointerSize int
	// Processors is the number of processors (default 4, at most 64 are
	// used by threads).
	Processors int
	// Duration is the trace length (default 10 s). With Unbounded it is
	// derived from Events.
	Duration time.Duration
	// Events is the number of background pool events (allocations plus
	// frees) to generate (default 4000); with Unbounded, the number of
	// records after which the trace ends.
	Events int
	// Leak adds the leaking WOW64 app: every LeakInterval its I/O thread
	// issues an overlapped ReadFile that leaves a LeakSize-byte
	// non-paged "Irp " block behind, LeakCount times.
	Leak         bool
	LeakCount    int           // default 156
	LeakSize     uint64        // default 1024
	LeakInterval time.Duration // default 60 ms
	// StackKeys makes background stacks use stack keys (StackKeyKernel/
	// StackKeyUser references defined by KeyRundown records at the end).
	StackKeys bool
	// Damage adds a free whose allocation predates the trace and an
	// allocation whose free event was lost (counted in EventsLost).
	Damage bool
	// Unbounded streams background traffic until Events records have
	// been produced, without freeing everything before the end: the
	// "scale" scenario. Memory stays bounded by the live allocations.
	Unbounded bool
	// PoolHeader is the header form of the PoolTrace records: SYSTEM
	// (HeaderDefault, with process and thread) or HeaderPerfInfo (none:
	// readers must take them from the stack records). Which one Windows
	// writes for PoolTrace has not been observed in public traces.
	PoolHeader HeaderKind
	// PerfFreq and StartTicks default to the Writer defaults.
	PerfFreq   int64
	StartTicks int64
}

// TagTotal counts outstanding blocks of one tag.
type TagTotal struct {
	Blocks int
	Bytes  uint64
}

// Summary is the ground truth of a scenario, complete once every record
// has been produced.
type Summary struct {
	Records        int // records produced (loss markers excluded)
	PoolAllocs     int
	PoolFrees      int
	Stacks         int // StackWalk Stack records
	StackKeyRefs   int // StackKeyKernel/StackKeyUser records
	KeyDefinitions int // KeyRundown records
	// Outstanding maps a pool tag (see Tag) to the blocks allocated in the
	// trace whose free is not in it.
	Outstanding map[uint32]TagTotal
	// UnmatchedFrees counts frees of blocks allocated before the trace.
	UnmatchedFrees int
	// LostEvents is the number of events dropped (the header's
	// EventsLost).
	LostEvents uint32
	// LeakPID and LeakTID identify the leaking app and its I/O thread.
	LeakPID etw.PID
	LeakTID etw.TID
	// FirstTimestamp and LastTimestamp bound the records' timestamps.
	FirstTimestamp, LastTimestamp int64
}

// Scenario generates the records of a pool-traffic trace in time order:
// rundown of processes, threads and images (with DbgID_RSDS records), pool
// allocations and frees with StackWalk records whose stacks cross kernel,
// 64-bit user and WOW64 32-bit frames, session and big-pool variants,
// address reuse, and optionally the Irp leak and damage cases. It keeps
// only live allocations and pending actions in memory.
type Scenario struct {
	o     ScenarioOptions
	w     *world
	rng   *rand.Rand
	ptr   int
	ncpu  int
	start int64 // StartTicks
	end   int64 // last tick of pool traffic (bounded mode)
	freq  int64

	q       actionQueue
	qseq    uint64
	lastT   int64
	out     []Record
	outPos  int
	done    bool
	ended   bool
	srcs    []*source
	weights []int
	wsum    int
	pools   [4]*addrPool
	keyUsed [][]uint64 // frames of each stack key used so far, by key index
	keyBase uint64
	spare   []*action
	keyNext uint64
	bgLeft  int // background pool events still to start
	nAlloc  int
	leaks   int
	lostArm bool
	sum     Summary
}

type liveBlock struct {
	tag  uint32
	size uint64
	pool int
}

// source is a kind of background allocation: who allocates, what, and
// from where.
type source struct {
	proc     *process
	tag      uint32
	sizes    []uint64
	poolType uint32
	session  bool
	big      bool
	kstack   []uint64
	ustack   []uint64
	kfree    []uint64
	ufree    []uint64
	lifeMS   float64
	kkey     uint64
	ukey     uint64
	kfreeKey uint64
	ufreeKey uint64
}

const (
	poolNonPaged = iota
	poolPaged
	poolSession
	poolBig
)

// Action kinds.
const (
	actRundownStart = iota
	actBackground
	actFree
	actUserFragment
	actAppStart
	actAppThread
	actLeakRead
	actPredateFree
	actEnd
)

type action struct {
	t    int64
	seq  uint64
	kind int
	src  *source
	th   *thread
	addr uint64
	blk  liveBlock
	evTS int64
	lost bool
}

// actionQueue is a binary min-heap of actions ordered by (t, seq).
type actionQueue []*action

func (q actionQueue) Len() int { return len(q) }

func (q actionQueue) less(i, j int) bool {
	if q[i].t != q[j].t {
		return q[i].t < q[j].t
	}
	return q[i].seq < q[j].seq
}

func (q *actionQueue) push(a *action) {
	h := append(*q, a)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	*q = h
}

func (q *actionQueue) pop() *action {
	h := *q
	n := len(h) - 1
	a := h[0]
	h[0] = h[n]
	h[n] = nil
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return a
}

// NewScenario returns a generator for the options.
func NewScenario(o ScenarioOptions) *Scenario {
	if o.PointerSize != 4 {
		o.PointerSize = 8
	}
	if o.Processors <= 0 {
		o.Processors = 4
	}
	if o.Events <= 0 {
		o.Events = 4000
	}
	if o.PerfFreq <= 0 {
		o.PerfFreq = DefaultPerfFreq
	}
	if o.StartTicks <= 0 {
		o.StartTicks = DefaultStartTicks
	}
	if o.LeakCount <= 0 {
		o.LeakCount = 156
	}
	if o.LeakSize == 0 {
		o.LeakSize = 1024
	}
	if o.LeakInterval <= 0 {
		o.LeakInterval = 60 * time.Millisecond
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
		if o.Unbounded {
			// About 200,000 pool events per second.
			o.Duration = time.Duration(float64(o.Events) / 200000 * float64(time.Second))
			o.Duration = max(o.Duration, time.Second)
		}
	}
	s := &Scenario{o: o, ptr: o.PointerSize, ncpu: o.Processors, start: o.StartTicks, freq: o.PerfFreq,
		rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5DEECE66D))}
	s.w = newWorld(s.ptr)
	for _, p := range s.w.procs {
		for _, t := range p.threads {
			t.cpu %= s.ncpu
		}
	}
	s.end = s.start + s.ticks(o.Duration)
	s.bgLeft = o.Events / 2
	s.sum.Outstanding = map[uint32]TagTotal{}
	s.sum.LeakPID = etw.PID(s.w.app.pid)
	s.sum.LeakTID = etw.TID(s.w.app.threads[1].tid)
	s.setupPools()
	s.setupSources()
	s.lastT = s.start
	s.schedule(&action{t: s.start + 2000, kind: actRundownStart})
	return s
}

// IrpLeak returns the scenario of testdata/irp-leak.etl: a 10-second,
// 4-processor Windows 10 x64 kernel trace in which the 32-bit (WOW64)
// ReadLeak.exe issues overlapped ReadFile calls that each leave a
// 1,024-byte non-paged "Irp " block behind (156 blocks, 159,744 bytes),
// among events background pool events of other tags that are all freed,
// except the damage cases: one free of a block allocated before the trace
// (tag "Ntfx") and one "Toke" allocation whose free event was lost
// (EventsLost 2: the free and its stack).
func IrpLeak(seed uint64, events int) *Scenario {
	return NewScenario(ScenarioOptions{Seed: seed, Events: events, Leak: true, StackKeys: true, Damage: true})
}

// Scale returns an unbounded scenario of about events records (background
// pool traffic at 100,000 allocations per second of trace time, with stack
// keys, and the leaking app), for streaming large traces: etlgen -scenario
// scale. Its live state stays bounded (a few MB) whatever the size.
func Scale(seed uint64, events int) *Scenario {
	return NewScenario(ScenarioOptions{Seed: seed, Events: events, StackKeys: true, Unbounded: true, Leak: true, LeakCount: 1 << 30})
}

// ScaleFull is [Scale] in the stack shape of xperf's default
// (xperf -on PROC_THREAD+LOADER+POOL -stackwalk PoolAlloc...), which
// caches no stacks: every pool event is followed by full StackWalk Stack
// records (a kernel fragment and, for user-mode callers, a user fragment
// that may come a few milliseconds later) instead of stack-key
// references. etlgen -scenario scale -stackwalk full.
func ScaleFull(seed uint64, events int) *Scenario {
	return NewScenario(ScenarioOptions{Seed: seed, Events: events, Unbounded: true, Leak: true, LeakCount: 1 << 30})
}

// Options returns the scenario's options with defaults filled in.
func (s *Scenario) Options() ScenarioOptions { return s.o }

// WriterOptions returns writer options that match the scenario (pointer
// size, processors, clock); callers may change the buffer layout fields.
func (s *Scenario) WriterOptions() Options {
	return Options{PointerSize: s.ptr, NumberOfProcessors: s.ncpu, PerfFreq: s.freq, StartTicks: s.start,
		HeaderPID: etw.PID(0x0a54), HeaderTID: etw.TID(0x1c3c)}
}

// Summary returns the ground truth accumulated so far; it is complete once
// Next has returned false.
func (s *Scenario) Summary() Summary {
	sum := s.sum
	sum.Outstanding = make(map[uint32]TagTotal, len(s.sum.Outstanding))
	for k, v := range s.sum.Outstanding {
		if v.Blocks != 0 {
			sum.Outstanding[k] = v
		}
	}
	return sum
}

// All returns the scenario's records in time order. The Data of each
// record is freshly allocated and may be kept. A record with Lost > 0 and
// no Data marks events dropped on a processor (see Writer.LoseEvents).
func (s *Scenario) All() iter.Seq[Record] {
	return func(yield func(Record) bool) {
		for {
			r, ok := s.Next()
			if !ok || !yield(r) {
				return
			}
		}
	}
}

// WriteTo streams every record of the scenario to w (loss markers become
// LoseEvents calls) and closes w.
func (s *Scenario) WriteTo(w *Writer) error {
	for r, ok := s.Next(); ok; r, ok = s.Next() {
		var err error
		if r.Lost > 0 {
			err = w.LoseEvents(r.CPU, r.Lost)
		} else {
			err = w.WriteRecord(r.CPU, r.Timestamp, r.Data)
		}
		if err != nil {
			return err
		}
	}
	return w.Close()
}

// Bytes writes the scenario into memory with a Writer of options o
// (WriterOptions gives the scenario's own) and returns the file.
func (s *Scenario) Bytes(o Options) ([]byte, error) {
	var f MemFile
	w, err := NewWriter(&f, o)
	if err != nil {
		return nil, err
	}
	if err := s.WriteTo(w); err != nil {
		return nil, err
	}
	return f.Bytes(), nil
}

// WriteFile writes the scenario to the named file, which it creates or
// truncates, with a Writer of options o (WriterOptions gives the
// scenario's own).
func (s *Scenario) WriteFile(name string, o Options) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w, err := NewWriter(f, o)
	if err == nil {
		err = s.WriteTo(w)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Next returns the next record in time order, or false at the end.
func (s *Scenario) Next() (Record, bool) {
	for s.outPos >= len(s.out) {
		if s.done {
			return Record{}, false
		}
		s.out, s.outPos = s.out[:0], 0
		s.step()
	}
	r := s.out[s.outPos]
	s.out[s.outPos] = Record{}
	s.outPos++
	if r.Lost == 0 {
		s.sum.Records++
		if s.sum.FirstTimestamp == 0 || r.Timestamp < s.sum.FirstTimestamp {
			s.sum.FirstTimestamp = r.Timestamp
		}
		s.sum.LastTimestamp = max(s.sum.LastTimestamp, r.Timestamp)
	}
	return r, true
}

func (s *Scenario) ticks(d time.Duration) int64 {
	return int64(float64(d) / float64(time.Second) * float64(s.freq))
}

// newAction returns a zeroed action, reusing recycled ones.
func (s *Scenario) newAction() *action {
	if n := len(s.spare); n > 0 {
		a := s.spare[n-1]
		s.spare = s.spare[:n-1]
		return a
	}
	return new(action)
}

func (s *Scenario) recycle(a *action) {
	*a = action{}
	s.spare = append(s.spare, a)
}

func (s *Scenario) schedule(a *action) {
	s.qseq++
	a.seq = s.qseq
	s.q.push(a)
}

// emit adds a record of the current action; k orders records inside the
// action's 16-tick slot.
func (s *Scenario) emit(cpu int, ts int64, data []byte) {
	s.out = append(s.out, Record{CPU: cpu, Timestamp: ts, Data: data})
}

// step runs the next action.
func (s *Scenario) step() {
	if s.q.Len() == 0 {
		s.done = true
		return
	}
	a := s.q.pop()
	defer s.recycle(a)
	// Every action gets its own 16-tick slot so that timestamps are
	// unique across processors (records of one action use t..t+15).
	t := max(a.t, s.lastT+16)
	s.lastT = t
	switch a.kind {
	case actRundownStart:
		s.rundown(t, true)
		s.startTraffic(t)
	case actBackground:
		s.background(t)
	case actFree:
		s.free(t, a)
	case actUserFragment:
		if d := &a.th.deferred; d.active && d.evTS == a.evTS {
			s.emitDeferred(a.th, t)
		}
	case actAppStart:
		s.appStart(t)
	case actAppThread:
		s.appThread(t)
	case actLeakRead:
		s.leakRead(t)
	case actPredateFree:
		s.predateFree(t)
	case actEnd:
		s.finish(t)
	}
}

func (s *Scenario) startTraffic(t int64) {
	if s.bgLeft > 0 {
		s.schedule(&action{t: t + s.interarrival(), kind: actBackground})
	}
	if s.o.Leak {
		s.schedule(&action{t: s.start + s.ticks(400*time.Millisecond), kind: actAppStart})
	}
	if s.o.Damage {
		s.schedule(&action{t: s.start + s.ticks(s.o.Duration*21/100), kind: actPredateFree})
		s.lostArm = true
	}
	if !s.o.Unbounded {
		s.schedule(&action{t: s.end, kind: actEnd})
	}
}

// interarrival draws the time to the next background allocation.
func (s *Scenario) interarrival() int64 {
	n := max(s.o.Events/2, 1)
	mean := float64(s.end-s.start) * 0.9 / float64(n)
	if s.o.Unbounded {
		mean = float64(s.freq) / 100000 // 100,000 allocations per second
	}
	return 1 + int64(s.rng.ExpFloat64()*mean)
}

// rundown emits the DCStart (begin) or DCEnd (end) rundown on processor 0.
func (s *Scenario) rundown(t int64, begin bool) {
	popProc, popThread, popImage := ProcessDCStart, ThreadDCStart, ImageDCStart
	if !begin {
		popProc, popThread, popImage = ProcessDCEnd, ThreadDCEnd, ImageDCEnd
	}
	masks := [8]uint32{0x00000007, 0x00000040}
	if begin {
		s.emit(0, t, HeaderExtension(s.ptr, Meta{Timestamp: t}, EventTraceExtension, masks, 0x46))
	}
	k := int64(1)
	next := func() int64 { k++; return t + k }
	for _, p := range s.w.procs {
		if p == s.w.app && (begin || p.startedAt == 0) {
			continue
		}
		ts := next()
		s.emit(0, ts, Process(s.ptr, s.processEvent(p, popProc, ts)))
		for _, th := range p.threads {
			if p == s.w.app && !th.alive {
				continue
			}
			ts := next()
			s.emit(0, ts, Thread(s.ptr, s.threadEvent(th, popThread, ts)))
		}
	}
	// Kernel modules, then user images per process, each with its RSDS.
	for _, m := range s.w.kernel {
		ts := next()
		s.emit(0, ts, Image(s.ptr, s.imageEvent(m, 0, popImage, Meta{Timestamp: ts})))
		s.emit(0, ts, s.rsds(m, 0, Meta{Timestamp: ts}))
	}
	for _, p := range s.w.procs {
		if p == s.w.app && (begin || p.startedAt == 0) {
			continue
		}
		for _, m := range p.images {
			ts := next()
			s.emit(0, ts, Image(s.ptr, s.imageEvent(m, p.pid, popImage, Meta{Timestamp: ts})))
			s.emit(0, ts, s.rsds(m, p.pid, Meta{Timestamp: ts}))
		}
	}
	if begin {
		s.emit(0, next(), RundownComplete(s.ptr, Meta{Timestamp: t + k}))
	}
	// A rundown takes more than one slot: move the clock past it.
	s.lastT = max(s.lastT, t+k+16)
}

func (s *Scenario) processEvent(p *process, op uint8, ts int64) ProcessEvent {
	exit := int32(0x103) // STATUS_PENDING while running
	return ProcessEvent{Meta: Meta{Timestamp: ts}, Opcode: op, UniqueProcessKey: p.key, ProcessID: p.pid, ParentID: p.parent,
		SessionID: p.session, ExitStatus: exit, DirectoryTableBase: p.dtb, Flags: p.flags, UserSID: p.sid,
		ImageFileName: p.name, CommandLine: p.cmdline}
}

func (s *Scenario) threadEvent(th *thread, op uint8, ts int64) ThreadEvent {
	e := ThreadEvent{Meta: Meta{Timestamp: ts, TID: etw.TID(th.tid), PID: etw.PID(th.proc.pid)}, Opcode: op,
		ProcessID: th.proc.pid, ThreadID: th.tid, StackBase: th.stackBase, StackLimit: th.stackBase - 0x6000,
		Affinity: uint64(1)<<uint(th.cpu) | 1, Win32StartAddr: th.start, TebBase: th.teb, BasePriority: 8, PagePriority: 5, IoPriority: 2}
	if th.teb != 0 {
		e.UserStackBase = s.w.uaddr(0x100000 + uint64(th.tid)*0x1000)
		e.UserStackLimit = e.UserStackBase - 0x8000
	}
	if th.proc == s.w.sys {
		e.BasePriority = 13
	}
	return e
}

func (s *Scenario) imageEvent(m *module, pid uint32, op uint8, meta Meta) ImageEvent {
	return ImageEvent{Meta: meta, Opcode: op, Base: m.base, Size: m.size, ProcessID: pid, Checksum: m.checksum,
		TimeDateStamp: m.tds, SignatureLevel: 0x0c, SignatureType: 1, DefaultBase: m.base, FileName: m.path}
}

func (s *Scenario) rsds(m *module, pid uint32, meta Meta) []byte {
	return DbgIDRSDS(s.ptr, RSDSEvent{TID: meta.TID, PID: meta.PID, Timestamp: meta.Timestamp, ImageBase: m.base, ProcessID: pid,
		GUID: m.guid, Age: m.age, PDBFileName: m.pdb})
}

// appStart emits the creation of the leaking app by explorer and its image
// loads.
func (s *Scenario) appStart(t int64) {
	app := s.w.app
	app.startedAt = t
	creator := s.w.expl.threads[0]
	main := app.threads[0]
	meta := Meta{Timestamp: t, TID: etw.TID(creator.tid), PID: etw.PID(creator.proc.pid)}
	pe := s.processEvent(app, ProcessStart, t)
	pe.Meta = meta
	s.emit(creator.cpu, t, Process(s.ptr, pe))
	te := s.threadEvent(main, ThreadStart, t+1)
	te.Meta = Meta{Timestamp: t + 1, TID: etw.TID(creator.tid), PID: etw.PID(creator.proc.pid)}
	s.emit(creator.cpu, t+1, Thread(s.ptr, te))
	main.alive = true
	ts := t + 2
	for _, m := range app.images {
		meta := Meta{Timestamp: ts, TID: etw.TID(main.tid), PID: etw.PID(app.pid)}
		s.emit(main.cpu, ts, Image(s.ptr, s.imageEvent(m, app.pid, ImageLoad, meta)))
		s.emit(main.cpu, ts, s.rsds(m, app.pid, meta))
		ts++
	}
	s.schedule(&action{t: t + s.ticks(30*time.Millisecond), kind: actAppThread})
}

// appThread starts the app's I/O thread, which then issues the reads.
func (s *Scenario) appThread(t int64) {
	app := s.w.app
	main, io := app.threads[0], app.threads[1]
	te := s.threadEvent(io, ThreadStart, t)
	te.Meta = Meta{Timestamp: t, TID: etw.TID(main.tid), PID: etw.PID(app.pid)}
	s.emit(main.cpu, t, Thread(s.ptr, te))
	io.alive = true
	s.schedule(&action{t: t + s.ticks(20*time.Millisecond), kind: actLeakRead})
}

// leakRead is one overlapped ReadFile of the app's I/O thread: an event
// object that is closed soon, and the IRP that is never freed.
func (s *Scenario) leakRead(t int64) {
	if s.ended {
		return
	}
	th := s.w.app.threads[1]
	s.migrate(th)
	ev := s.srcs[0] // the app's event-object source
	s.allocate(t, th, ev, s.pickSize(ev), 0)
	irpT := t + 4
	addr := s.pools[poolNonPaged].alloc(s.o.LeakSize, s.rng)
	s.poolRecord(th, irpT, PoolAlloc, 0x200, Tag("Irp "), s.o.LeakSize, addr, 0)
	s.account(addr, liveBlock{tag: Tag("Irp "), size: s.o.LeakSize, pool: poolNonPaged}, true)
	s.stacks(th, irpT, s.leakKernel(), s.leakUser(), false, 0, 0, s.leaks%3 == 1)
	s.leaks++
	if s.leaks < s.o.LeakCount {
		jitter := s.ticks(time.Duration(s.rng.IntN(4000)) * time.Microsecond)
		s.schedule(&action{t: t + s.ticks(s.o.LeakInterval) - s.ticks(2*time.Millisecond) + jitter, kind: actLeakRead})
	}
}

// predateFree frees a block that was allocated before the trace started.
func (s *Scenario) predateFree(t int64) {
	th := s.w.sys.threads[1]
	addr := s.w.kaddr(0x0f3e2c50)
	if s.ptr == 4 {
		addr = 0x85e2c050
	}
	s.poolRecord(th, t, PoolFree, 0x200, Tag("Ntfx"), 0x160, addr, 0)
	s.sum.UnmatchedFrees++
	s.sum.PoolFrees++
	s.stacks(th, t, s.freeKernel(s.w.drivers["Ntfs.sys"].at(0x3b2c1), s.w.drivers["fltmgr.sys"].at(0x4e21), s.w.nt.at(0x2b3a51), s.w.nt.at(0x5e3c25), s.w.nt.at(0x40a8c6)), nil, false, 0, 0, false)
}

// migrate moves a thread to another processor now and then.
func (s *Scenario) migrate(th *thread) {
	if s.ncpu > 1 && s.rng.IntN(20) == 0 {
		th.cpu = s.rng.IntN(s.ncpu)
	}
}

// background starts one background allocation and schedules its free.
func (s *Scenario) background(t int64) {
	if s.ended {
		return
	}
	src := s.pickSource()
	th := src.proc.threads[s.rng.IntN(len(src.proc.threads))]
	s.migrate(th)
	s.allocate(t, th, src, s.pickSize(src), 0)
	s.bgLeft--
	switch {
	case s.o.Unbounded && s.sum.Records >= s.o.Events:
		s.schedule(&action{t: t + 1, kind: actEnd})
	case s.bgLeft > 0 || s.o.Unbounded:
		a := s.newAction()
		a.t, a.kind = t+s.interarrival(), actBackground
		s.schedule(a)
	}
}

func (s *Scenario) pickSource() *source {
	r := s.rng.IntN(s.wsum)
	i := sort.Search(len(s.weights), func(i int) bool { return s.weights[i] > r })
	return s.srcs[i]
}

func (s *Scenario) pickSize(src *source) uint64 {
	return src.sizes[s.rng.IntN(len(src.sizes))]
}

// allocate emits an allocation with its stacks and schedules the free.
func (s *Scenario) allocate(t int64, th *thread, src *source, size uint64, _ int) {
	pool := poolNonPaged
	switch {
	case src.big:
		pool = poolBig
	case src.session:
		pool = poolSession
	case src.poolType&1 == 1:
		pool = poolPaged
	}
	addr := s.pools[pool].alloc(size, s.rng)
	op := PoolAlloc
	if src.session {
		op = PoolAllocSession
	}
	ptype := src.poolType
	if src.big {
		ptype |= BigPoolMask
	}
	blk := liveBlock{tag: src.tag, size: size, pool: pool}
	s.poolRecord(th, t, op, ptype, src.tag, size, addr, th.proc.session)
	s.account(addr, blk, true)
	s.stacks(th, t, src.kstack, src.ustack, s.o.StackKeys && src.kkey != 0, src.kkey, src.ukey, s.rng.IntN(4) == 0)
	// Schedule the free.
	life := int64(s.rng.ExpFloat64() * src.lifeMS / 1000 * float64(s.freq))
	ft := t + 64 + life
	if !s.o.Unbounded && ft > s.end-s.ticks(20*time.Millisecond) {
		room := s.end - s.ticks(20*time.Millisecond) - t
		ft = t + 64 + int64(s.rng.Float64()*float64(max(room-64, 1)))
	}
	a := s.newAction()
	*a = action{t: ft, kind: actFree, src: src, th: s.freeThread(th), addr: addr, blk: blk}
	s.nAlloc++
	if s.lostArm && src.tag == Tag("Toke") && s.nAlloc > 40 && t+s.ticks(3*time.Second) < s.end {
		a.t = t + s.ticks(2*time.Second)
		a.lost = true
		s.lostArm = false
	}
	s.schedule(a)
}

// freeThread picks the thread that frees a block: usually the allocating
// one, sometimes another thread of the same process.
func (s *Scenario) freeThread(th *thread) *thread {
	p := th.proc
	if len(p.threads) > 1 && s.rng.IntN(4) == 0 {
		return p.threads[s.rng.IntN(len(p.threads))]
	}
	return th
}

func (s *Scenario) free(t int64, a *action) {
	if s.ended {
		return
	}
	th := a.th
	s.migrate(th)
	if a.lost {
		// The free and its stack were lost: the block stays outstanding.
		s.out = append(s.out, Record{CPU: th.cpu, Timestamp: t, Lost: 2})
		s.sum.LostEvents += 2
		// The address is not reused: the block looks outstanding.
		return
	}
	op := PoolFree
	if a.src.session {
		op = PoolFreeSession
	}
	ptype := a.src.poolType
	if a.src.big {
		ptype |= BigPoolMask
	}
	s.poolRecord(th, t, op, ptype, a.blk.tag, a.blk.size, a.addr, th.proc.session)
	s.account(a.addr, a.blk, false)
	s.pools[a.blk.pool].release(a.addr, a.blk.size)
	s.stacks(th, t, a.src.kfree, a.src.ufree, s.o.StackKeys && a.src.kfreeKey != 0, a.src.kfreeKey, a.src.ufreeKey, false)
}

func (s *Scenario) account(addr uint64, b liveBlock, alloc bool) {
	tt := s.sum.Outstanding[b.tag]
	if alloc {
		tt.Blocks++
		tt.Bytes += b.size
		s.sum.PoolAllocs++
	} else {
		tt.Blocks--
		tt.Bytes -= b.size
		s.sum.PoolFrees++
	}
	s.sum.Outstanding[b.tag] = tt
}

func (s *Scenario) poolRecord(th *thread, t int64, op uint8, ptype, tag uint32, size, addr uint64, session uint32) {
	if th.deferred.active {
		// The thread returned to user mode (logging its deferred user
		// stack) before it could log this event.
		s.emitDeferred(th, t-1)
	}
	e := PoolEvent{Meta: Meta{Kind: s.o.PoolHeader, TID: etw.TID(th.tid), PID: etw.PID(th.proc.pid), Timestamp: t, KernelTime: 12, UserTime: 3},
		Opcode: op, PoolType: ptype, Tag: tag, Size: size, Entry: addr, SessionID: session}
	s.emit(th.cpu, t, Pool(s.ptr, e))
}

// stacks emits the StackWalk records of the event at evTS on th: kernel
// and user fragments as separate records, or key references when keyed.
// A delayed user fragment arrives 1-5 ms later (when the thread returns to
// user mode).
func (s *Scenario) stacks(th *thread, evTS int64, kstack, ustack []uint64, keyed bool, kkey, ukey uint64, delayUser bool) {
	pid, tid := etw.PID(th.proc.pid), etw.TID(th.tid)
	if keyed {
		s.emit(th.cpu, evTS+1, StackKeyRef(s.ptr, StackKey{Timestamp: evTS + 1, EventTimeStamp: evTS, PID: pid, TID: tid, Key: kkey}))
		s.sum.StackKeyRefs++
		s.useKey(kkey, kstack)
		if ukey != 0 && len(ustack) > 0 {
			s.emit(th.cpu, evTS+2, StackKeyRef(s.ptr, StackKey{Timestamp: evTS + 2, EventTimeStamp: evTS, PID: pid, TID: tid, Key: ukey, User: true}))
			s.sum.StackKeyRefs++
			s.useKey(ukey, ustack)
		}
		return
	}
	if len(kstack) > 0 {
		s.emit(th.cpu, evTS+1, StackWalk(s.ptr, Stack{Timestamp: evTS + 1, EventTimeStamp: evTS, PID: pid, TID: tid, Frames: kstack}))
		s.sum.Stacks++
	}
	if len(ustack) == 0 {
		return
	}
	if delayUser {
		d := s.ticks(time.Millisecond) + int64(s.rng.IntN(int(s.ticks(4*time.Millisecond))+1))
		th.deferred = deferredStack{active: true, evTS: evTS, stack: ustack}
		s.schedule(&action{t: evTS + d, kind: actUserFragment, th: th, evTS: evTS})
		return
	}
	s.emit(th.cpu, evTS+2, StackWalk(s.ptr, Stack{Timestamp: evTS + 2, EventTimeStamp: evTS, PID: pid, TID: tid, Frames: ustack}))
	s.sum.Stacks++
}

// emitDeferred logs a thread's deferred user-mode stack fragment at t.
func (s *Scenario) emitDeferred(th *thread, t int64) {
	d := &th.deferred
	s.emit(th.cpu, t, StackWalk(s.ptr, Stack{Timestamp: t, EventTimeStamp: d.evTS, PID: etw.PID(th.proc.pid), TID: etw.TID(th.tid), Frames: d.stack}))
	s.sum.Stacks++
	*d = deferredStack{}
}

// useKey records that key (made by setupSources) was referenced.
func (s *Scenario) useKey(key uint64, frames []uint64) {
	i := int((key - s.keyBase) / 0x40)
	for len(s.keyUsed) <= i {
		s.keyUsed = append(s.keyUsed, nil)
	}
	s.keyUsed[i] = frames
}

// finish emits the end rundown, the stack-key definitions and the end
// extension; pending actions are dropped.
func (s *Scenario) finish(t int64) {
	s.ended = true
	s.rundown(t, false)
	t = s.lastT
	n := int64(0)
	for i, frames := range s.keyUsed {
		if frames == nil {
			continue
		}
		n++
		ts := t + n
		s.emit(0, ts, StackKeyDefinition(s.ptr, StackKeyDef{Timestamp: ts, Opcode: StackKeyRundown, Key: s.keyBase + uint64(i)*0x40, Frames: frames}))
		s.sum.KeyDefinitions++
	}
	t += n + 2
	s.emit(0, t, HeaderExtension(s.ptr, Meta{Timestamp: t}, EventTraceEndExtension, [8]uint32{0x00000007, 0x00000040}, 0x46))
	s.lastT = t + 16
	s.q = s.q[:0]
	s.done = true
}

// addrPool hands out block addresses of one pool with LIFO reuse of freed
// addresses per size, so addresses are reused as on a real system.
type addrPool struct {
	base, limit, next uint64
	align             uint64
	free              map[uint64][]uint64
}

func (p *addrPool) alloc(size uint64, rng *rand.Rand) uint64 {
	sz := (size + 16 + p.align - 1) &^ (p.align - 1)
	if l := p.free[sz]; len(l) > 0 && rng.IntN(8) != 0 {
		a := l[len(l)-1]
		p.free[sz] = l[:len(l)-1]
		return a
	}
	if p.next+sz >= p.limit {
		p.next = p.base
	}
	a := p.next + 16
	if p.align >= 0x1000 {
		a = p.next
	}
	p.next += sz
	return a
}

func (p *addrPool) release(addr, size uint64) {
	sz := (size + 16 + p.align - 1) &^ (p.align - 1)
	if len(p.free[sz]) < 4096 {
		p.free[sz] = append(p.free[sz], addr)
	}
}

func (s *Scenario) setupPools() {
	mk := func(base, span, align uint64) *addrPool {
		return &addrPool{base: base, limit: base + span, next: base, align: align, free: map[uint64][]uint64{}}
	}
	if s.ptr == 8 {
		s.pools[poolNonPaged] = mk(0xffffc20a1c000000, 1<<36, 16)
		s.pools[poolPaged] = mk(0xffffa38b40000000, 1<<36, 16)
		s.pools[poolSession] = mk(0xffff9e8100000000, 1<<32, 16)
		s.pools[poolBig] = mk(0xffffc20a40000000, 1<<36, 0x1000)
	} else {
		s.pools[poolNonPaged] = mk(0x86000000, 0x08000000, 8)
		s.pools[poolPaged] = mk(0x9c000000, 0x08000000, 8)
		s.pools[poolSession] = mk(0xa4000000, 0x04000000, 8)
		s.pools[poolBig] = mk(0xb0000000, 0x08000000, 0x1000)
	}
}

// Frame builders.

func (s *Scenario) allocPrefix() []uint64 {
	return []uint64{s.w.nt.at(0x3c1a5e), s.w.nt.at(0x3c0f21)}
}

func (s *Scenario) freeKernel(rest ...uint64) []uint64 {
	return append([]uint64{s.w.nt.at(0x3c4412), s.w.nt.at(0x3c3b90)}, rest...)
}

func (s *Scenario) syscallTail() uint64 { return s.w.nt.at(0x40c6b5) } // KiSystemServiceCopyEnd

// leakKernel is the kernel half of the leaking allocation: the IRP
// allocated by NtReadFile.
func (s *Scenario) leakKernel() []uint64 {
	nt := s.w.nt
	return []uint64{nt.at(0x3c1a5e), nt.at(0x3c0f21), nt.at(0x2b8e11), nt.at(0x6d02f5), nt.at(0x6cf9a0), s.syscallTail()}
}

// wowUser returns the user half of a syscall made by the 32-bit app: the
// 64-bit ntdll stub, the WOW64 layer, then the 32-bit frames.
func (s *Scenario) wowUser(ntdllStub uint64, frames32 ...uint64) []uint64 {
	w := s.w
	if s.ptr == 4 {
		out := []uint64{w.ntdll.at(ntdllStub)}
		out = append(out, frames32...)
		return append(out, w.kernel32.at(0x1fa29), w.ntdll.at(0x6c0be), w.ntdll.at(0x6c08e))
	}
	out := []uint64{
		w.ntdll64.at(ntdllStub),      // ntdll!NtXxx+0x14
		w.wow64cpu.at(0x1783),        // wow64cpu!CpupSyscallStub+0x13
		w.wow64cpu.at(0x1199),        // wow64cpu!TurboDispatchJumpAddressEnd
		w.wow64.at(0x7463),           // wow64!Wow64SystemServiceEx+0x153
		w.wow64cpu.at(0x1d2a),        // wow64cpu!BTCpuSimulate+0x9
		w.wow64.at(0x2b10),           // wow64!RunCpuSimulation+0xd
		w.wow64.at(0x2a8d),           // wow64!Wow64LdrpInitialize+0x12d
		w.ntdll64.at(0x6c21b),        // ntdll!LdrpInitializeProcess
		w.ntdll64.at(0x6b1fe),        // ntdll!LdrInitializeThunk+0xe
		w.ntdll32.at(0x72e7c - 0x10), // 32-bit ntdll!NtXxx+0xc
	}
	out = append(out, frames32...)
	return append(out, w.k32.at(0x1fa29), w.ntdll32.at(0x6c0be), w.ntdll32.at(0x6c08e))
}

// leakUser is the user half of the leak: ReadFile from the app's reader
// loop.
func (s *Scenario) leakUser() []uint64 {
	w := s.w
	return s.wowUser(0x9d4f4, w.kb32.at(0x11f76), w.appExe.at(0x11a3), w.appExe.at(0x1290), w.appExe.at(0x14e5))
}

// native64User returns a 64-bit user stack from ntdll to thread start.
func (s *Scenario) nativeUser(exe *module, ntdllStub uint64, mid ...uint64) []uint64 {
	w := s.w
	out := []uint64{w.ntdll.at(ntdllStub)}
	out = append(out, mid...)
	return append(out, exe.at(0x3a10), exe.at(0x2c55), w.kernel32.at(0x17034), w.ntdll.at(0x52651))
}

func (s *Scenario) setupSources() {
	w := s.w
	nt := w.nt
	d := w.drivers
	worker := []uint64{nt.at(0x2b3a51), nt.at(0x5e3c25), nt.at(0x40a8c6)} // ExpWorkerThread, PspSystemThreadStartup, KiStartSystemThread
	add := func(weight int, src *source) {
		if src.lifeMS == 0 {
			src.lifeMS = 150
		}
		s.srcs = append(s.srcs, src)
		s.wsum += weight
		s.weights = append(s.weights, s.wsum)
	}
	// 0: the app's event object per ReadFile (WOW64), closed soon. Weight
	// 0: only leakRead uses it.
	add(0, &source{proc: w.app, tag: Tag("Even"), sizes: []uint64{0x80}, poolType: 0x200, lifeMS: 8,
		kstack: append(s.allocPrefix(), nt.at(0x6a2b11), nt.at(0x6f0c3e), s.syscallTail()),
		ustack: s.wowUser(0x9d6a4, w.kb32.at(0x2e4b1), w.appExe.at(0x1188), w.appExe.at(0x1290), w.appExe.at(0x14e5)),
		kfree:  s.freeKernel(nt.at(0x6a5e10), nt.at(0x2a1b71), nt.at(0x6c02a1), s.syscallTail()),
		ufree:  s.wowUser(0x9d2d4, w.kb32.at(0x1d0c2), w.appExe.at(0x11d9), w.appExe.at(0x1290), w.appExe.at(0x14e5)),
	})
	// 1: System worker threads (kernel-only stacks), Ntfs/fltmgr.
	add(30, &source{proc: w.sys, tag: Tag("Ntfx"), sizes: []uint64{0x160, 0x1a0}, poolType: 0x200,
		kstack: append(append(s.allocPrefix(), d["Ntfs.sys"].at(0x1a3f2), d["Ntfs.sys"].at(0x3b2c1), d["fltmgr.sys"].at(0x4e21)), worker...),
		kfree:  s.freeKernel(append([]uint64{d["Ntfs.sys"].at(0x2c0a7), d["fltmgr.sys"].at(0x4e9a)}, worker...)...)})
	add(20, &source{proc: w.sys, tag: Tag("FMfn"), sizes: []uint64{0x140, 0x2a0}, poolType: 1,
		kstack: append(append(s.allocPrefix(), d["fltmgr.sys"].at(0x31c5a), d["fltmgr.sys"].at(0x2f0e3)), worker...),
		kfree:  s.freeKernel(append([]uint64{d["fltmgr.sys"].at(0x33a01)}, worker...)...)})
	add(15, &source{proc: w.sys, tag: Tag("TcpE"), sizes: []uint64{0x2c0}, poolType: 0x200, lifeMS: 400,
		kstack: append(append(s.allocPrefix(), d["tcpip.sys"].at(0x1f2a4), d["tcpip.sys"].at(0x5b9c1), d["afd.sys"].at(0x2c881)), worker...),
		kfree:  s.freeKernel(append([]uint64{d["tcpip.sys"].at(0x20b1e)}, worker...)...)})
	// Big pool: 20 KiB registry cell buffers.
	add(3, &source{proc: w.sys, tag: Tag("CM16"), sizes: []uint64{0x5000, 0x3000}, poolType: 1, big: true, lifeMS: 300,
		kstack: append(append(s.allocPrefix(), nt.at(0x5f1c02), nt.at(0x7a0c11)), worker...),
		kfree:  s.freeKernel(append([]uint64{nt.at(0x5f2e40)}, worker...)...)})
	// svchost: tokens, object names, IRPs (freed), keys: 64-bit user stacks.
	svcK := func(callers ...uint64) []uint64 {
		return append(append(s.allocPrefix(), callers...), s.syscallTail())
	}
	add(25, &source{proc: w.svc, tag: Tag("Toke"), sizes: []uint64{0x5f0, 0x7c0}, poolType: 1,
		kstack: svcK(nt.at(0x6a2b11), nt.at(0x70e3a2), nt.at(0x70dc18)),
		ustack: s.nativeUser(w.svchostExe, 0x9e124, w.kernelbase.at(0x4a0d3), w.rpcrt4.at(0x2a3c1), w.rpcrt4.at(0x1f0b2)),
		kfree:  s.freeKernel(nt.at(0x6a5e10), nt.at(0x2a1b71), nt.at(0x6c02a1), s.syscallTail()),
		ufree:  s.nativeUser(w.svchostExe, 0x9d2d4, w.kernelbase.at(0x1d0c2))})
	add(25, &source{proc: w.svc, tag: Tag("ObNm"), sizes: []uint64{0x40, 0x60, 0x80}, poolType: 1, lifeMS: 30,
		kstack: svcK(nt.at(0x6b10f2), nt.at(0x6f9a10)),
		ustack: s.nativeUser(w.svchostExe, 0x9d8c4, w.kernelbase.at(0x3c0e1), w.rpcrt4.at(0x2a3c1)),
		kfree:  s.freeKernel(nt.at(0x6b1c33), nt.at(0x6f9a10), s.syscallTail())})
	add(20, &source{proc: w.svc, tag: Tag("Irp "), sizes: []uint64{0x1f0, 0x430, 1024}, poolType: 0x200, lifeMS: 20,
		kstack: svcK(nt.at(0x2b8e11), nt.at(0x6d1a03), nt.at(0x6d0f80)),
		ustack: s.nativeUser(w.svchostExe, 0x9dc44, w.kernelbase.at(0x5e3d1), w.rpcrt4.at(0x6c2e0)),
		kfree:  s.freeKernel(nt.at(0x2b9f40), nt.at(0x2ba5c1), nt.at(0x40f2b0))})
	add(10, &source{proc: w.svc, tag: Tag("CMVa"), sizes: []uint64{0x100, 0x200, 0x1000}, poolType: 1, lifeMS: 60,
		kstack: svcK(nt.at(0x7a3b51), nt.at(0x7a1e02), nt.at(0x79f0c4)),
		ustack: s.nativeUser(w.svchostExe, 0x9e5a4, w.kernelbase.at(0x6b0a2), w.kernelbase.at(0x6a1f3)),
		kfree:  s.freeKernel(nt.at(0x7a4c20), nt.at(0x79f0c4), s.syscallTail())})
	// explorer: session pool from win32k.
	add(12, &source{proc: w.expl, tag: Tag("Usti"), sizes: []uint64{0x70, 0x98}, poolType: 0x220, session: true, lifeMS: 250,
		kstack: append(append(s.allocPrefix(), d["win32kbase.sys"].at(0x4c1a2), d["win32kfull.sys"].at(0x1e3f0), d["win32kfull.sys"].at(0x9a112)), s.syscallTail()),
		ustack: s.nativeUser(w.explorerExe, 0x1042, w.user32.at(0x2cd31), w.user32.at(0x2b110)),
		kfree:  s.freeKernel(d["win32kbase.sys"].at(0x4d3e0), d["win32kfull.sys"].at(0x1e9c4), s.syscallTail())})
	add(8, &source{proc: w.expl, tag: Tag("Gh05"), sizes: []uint64{0x1b0}, poolType: 0x221, session: true, lifeMS: 500,
		kstack: append(append(s.allocPrefix(), d["win32kbase.sys"].at(0x8e0a1), d["win32kfull.sys"].at(0x4a2c3)), s.syscallTail()),
		ustack: s.nativeUser(w.explorerExe, 0x1a62, w.user32.at(0x3f0d1)),
		kfree:  s.freeKernel(d["win32kbase.sys"].at(0x8f1b2), s.syscallTail())})
	// Stack keys for the background sources (not the app's).
	if s.o.StackKeys {
		base := uint64(0xffffc20af0000000)
		if s.ptr == 4 {
			base = 0x8f000000
		}
		s.keyBase = base
		key := func() uint64 { s.keyNext++; return base + s.keyNext*0x40 }
		for _, src := range s.srcs[1:] {
			src.kkey = key()
			src.kfreeKey = key()
			if len(src.ustack) > 0 {
				src.ukey = key()
			}
			if len(src.ufree) > 0 {
				src.ufreeKey = key()
			}
		}
	}
}
