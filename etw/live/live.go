package live

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/etwkit/etwkit/etw"
)

// ErrNotSupported is returned by [Start] on systems without ETW (every
// system but Windows).
var ErrNotSupported = errors.New("live: real-time ETW sessions are only supported on Windows")

// DefaultName is the stem of the session names [Start] generates when
// [Options.Name] is empty (see [NamePrefix] and [NewSessionName]). Earlier
// versions used it as the fixed default name; [StopOrphans] also stops a
// session of exactly this name.
const DefaultName = "etwkit"

// KernelLoggerName is the name of the single classic kernel session. A
// session given this name is started as the "NT Kernel Logger" instead of a
// system logger session.
const KernelLoggerName = "NT Kernel Logger"

// Default and maximum buffering.
const (
	defaultBufferKB = 1024
	defaultMinBuf   = 64
	defaultMaxBuf   = 256
	defaultSlots    = 16384
	maxSlots        = 1 << 18
	defaultReorder  = 2 * time.Second
)

// Options configures a live session.
type Options struct {
	// Name is the session name. Empty means a name unique to the process
	// and the call ([NewSessionName]: "etwkit-PID-RANDOM"), so programs
	// and tests running side by side never meet. On Windows 8 and later
	// the session is a system logger session of that name, which does not
	// compete for the single "NT Kernel Logger"; pass [KernelLoggerName]
	// to use that one instead. A running session of the same name is an
	// error ([ErrSessionExists]): Start never stops another session.
	Name string
	// PoolTags restricts pool events to up to four tags ("Irp", "NDnd").
	// '?' matches any one character and a trailing '*' any rest ("Nt*",
	// "Ir?"); a '*' elsewhere is refused with [ErrBadPoolTag]. The session
	// asks the kernel to filter (POOLTAG_FILTER extension item) and always
	// filters again in user mode with the same matching, dropping the
	// stack walks of the events it drops; [Stats.KernelTagFilter] says
	// whether StartTrace accepted the kernel filter.
	PoolTags []string
	// StackWalk enables kernel stack walks for the pool allocation and
	// free events (xperf -stackwalk PoolAlloc+PoolAllocSession+PoolFree+
	// PoolFreeSession): hook ids in the StartTrace extension as xperf
	// passes them, else TraceSetInformation(TraceStackTracingInfo) before
	// PERF_POOL is enabled. When Windows refuses both, the session runs
	// without stacks: [Stats.StackWalk] is [StackWalkNone] and
	// [Session.Warnings] says why. Stacks never cost the session.
	StackWalk bool
	// Rundown keeps the process, thread and image rundown (DCStart events)
	// that the kernel logs when the session starts, and reads the PDB
	// identity of every image in it, so stacks into processes that were
	// already running resolve. When false, DCStart and DCEnd events are
	// dropped and only images loaded during the session get a PDB
	// identity.
	Rundown bool
	// NoPDBIdentity disables reading image files: no DbgID_RSDS events are
	// synthesized.
	NoPDBIdentity bool
	// NoSignalHandler stops Start from installing its interrupt handler.
	// By default the first Ctrl-C, Ctrl-Break or console close calls
	// [Session.Close] (the session drains: ReadEvent returns what the
	// kernel still held, then os.ErrClosed, so the program can finish its
	// work), a second one calls [Session.Abort] (ReadEvent returns
	// os.ErrClosed at once), and the handler then removes itself, so a
	// third interrupt ends the program.
	NoSignalHandler bool
	// BufferSizeKB, MinBuffers and MaxBuffers size the session's kernel
	// buffers (defaults 1024 KB, 64 and 256).
	BufferSizeKB, MinBuffers, MaxBuffers uint32
	// QueueSize is the number of decoded events buffered between the
	// consumer and ReadEvent, the reorder window included (default 16384).
	QueueSize int
	// ReorderWindow is how long events are held to be returned in time
	// order. The kernel delivers each processor's buffer as it fills or
	// at the session's one-second flush, so events of different
	// processors arrive out of order; the session merges them by
	// timestamp, as the ETL reader merges a file, releasing an event once
	// the window has passed in trace time or in wall time, or when the
	// queue is nearly full. Zero means 2 s; a negative value returns events
	// in arrival order.
	ReorderWindow time.Duration
}

// Stats counts what a session saw.
type Stats struct {
	// Records is the number of records the consumer received.
	Records uint64
	// OutOfOrder counts events returned with a timestamp earlier than the
	// event returned before them (they arrived after the reorder window).
	OutOfOrder uint64
	// Events is the number of events ReadEvent returned, synthesized
	// DbgID events included.
	Events uint64
	// Filtered counts records dropped in user mode: pool events of other
	// tags and their stacks, and rundown events when Rundown is off.
	Filtered uint64
	// DecodeErrors counts records that could not be translated.
	DecodeErrors uint64
	// ImageIDs counts synthesized DbgID_RSDS events; ImageIDFailures the
	// image files that could not be resolved, opened or parsed.
	ImageIDs        uint64
	ImageIDFailures uint64
	// LostEvents, LostBuffers and RealTimeBuffersLost are the session's own
	// counters (EVENT_TRACE_PROPERTIES); LostEventRecords counts the
	// RT_LostEvent notifications the consumer received.
	LostEvents          uint64
	LostBuffers         uint64
	RealTimeBuffersLost uint64
	LostEventRecords    uint64
	// KernelTagFilter reports that StartTrace accepted the POOLTAG_FILTER
	// extension item (that the kernel then filters is unverified). Pool
	// tags are filtered in user mode either way.
	KernelTagFilter bool
	// StackWalk says how the session got its pool stack walks
	// ([StackWalkNone] when not asked for or refused).
	StackWalk StackWalkMode
	// DroppedOnClose counts records the session received but never
	// returned: those it held when [Session.Abort] came (counted when the
	// reader next calls ReadEvent), and the one a draining consumer could
	// not place because nobody read for a few seconds after
	// [Session.Close]. Records the kernel still held at an abort never
	// reach the session and are not counted.
	DroppedOnClose uint64
	// Aborted reports that the session was aborted ([Session.Abort], the
	// second Ctrl-C, or a drain nobody read): what it returned is partial.
	Aborted bool
}

// sourceStats are the counters a source keeps itself.
type sourceStats struct {
	lostEvents, lostBuffers, rtBuffersLost uint64
	kernelTagFilter                        bool
	stackWalk                              StackWalkMode
	warnings                               []string
}

// source is a running trace session feeding records to a sink. The Windows
// implementation wraps ETW; other systems have a stub.
type source interface {
	// run delivers records to sink until the trace ends; it blocks. After
	// stop it still delivers every record the kernel held, then returns
	// and releases the consumer.
	run(sink recordSink) error
	// stop stops the trace session (ControlTrace STOP). It is safe to
	// call more than once and concurrently with run.
	stop() error
	// release closes the consumer without dropping: run returns after
	// delivering what was already queued for it (CloseTrace before
	// ProcessTrace returned). Safe to call more than once.
	release()
	// abort stops the session and makes run return without delivering
	// what is still in flight. Safe to call more than once.
	abort()
	// stats queries the session's counters.
	stats() sourceStats
	// clock is the clock of the session's raw timestamps.
	clock() *etw.Clock
	// pointerSize is the session's pointer size (4 or 8).
	pointerSize() int
	// resolver translates kernel image paths to openable paths.
	resolver() pathResolver
}

// recordSink receives the consumer's records. record reports false when the
// session is closing and the consumer should stop.
type recordSink interface {
	record(h *etw.RecordHeader, ctx etw.BufferContext, ext []etw.ExtItem, user []byte) bool
}

// slot is one buffered event with the memory it points into.
type slot struct {
	ev      etw.Event
	dec     etw.RecordDecoder
	arrived time.Time // when the reader took it from the queue
}

// slotHeap orders held slots by timestamp, then arrival.
type slotHeap []*slot

func (h slotHeap) less(i, j int) bool {
	a, b := &h[i].ev, &h[j].ev
	if a.Timestamp != b.Timestamp {
		return a.Timestamp < b.Timestamp
	}
	return a.Offset < b.Offset
}

func (h *slotHeap) push(s *slot) {
	*h = append(*h, s)
	q := *h
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *slotHeap) pop() *slot {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = nil
	q = q[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}

// Session is a running real-time kernel session. ReadEvent and All must be
// called from one goroutine at a time; Close and Stats may be called from
// any goroutine.
type Session struct {
	src  source
	opts Options

	filter  tagFilter
	free    chan *slot
	full    chan *slot
	done    chan struct{} // closed by Close: drain
	aborted chan struct{} // closed by Abort: drop
	stalled chan struct{} // closed when a draining consumer waits for the reader
	ended   chan struct{} // closed when run returns
	runErr  error
	seq     int64 // consumer side: records decoded

	closeOnce sync.Once
	closeErr  error
	abortOnce sync.Once
	stallOnce sync.Once
	final     sourceStats
	finalSet  atomic.Bool
	finalMu   sync.Mutex

	// reader side
	cur     *slot
	held    *slot // image event to return after its DbgID event
	order   slotHeap
	window  time.Duration // 0: arrival order
	ticks   int64         // window in trace ticks
	highW   int           // release when this many are held
	maxTS   int64
	lastTS  int64
	endSeen bool
	// abortCounted is set once the events held at an abort are counted.
	abortCounted bool
	timer        *time.Timer
	img          imageInfo
	ids          *identities
	synth        etw.Event
	synDec       etw.RecordDecoder
	synPay       []byte

	records, events, filtered, decodeErrs, lostRecs, late atomic.Uint64
	imageIDs, dropped                                     atomic.Uint64
}

// Start starts a kernel session as configured by opts and begins
// consuming it. The caller must Close the session: a system logger session
// outlives the process that started it. Run `defer s.Close()` right after
// Start, so the session is also stopped when the goroutine panics.
//
// Start needs an elevated administrator: kernel sessions are refused to
// other accounts, members of Performance Log Users included, and Start
// then returns an error wrapping [ErrNotElevated]. On systems other than
// Windows it returns [ErrNotSupported].
func Start(opts Options) (*Session, error) {
	if opts.Name == "" {
		opts.Name = NewSessionName()
	}
	tags, err := parsePoolTags(opts.PoolTags)
	if err != nil {
		return nil, err
	}
	if opts.BufferSizeKB == 0 {
		opts.BufferSizeKB = defaultBufferKB
	}
	if opts.MinBuffers == 0 {
		opts.MinBuffers = defaultMinBuf
	}
	if opts.MaxBuffers == 0 {
		opts.MaxBuffers = defaultMaxBuf
	}
	if opts.MaxBuffers < opts.MinBuffers {
		opts.MaxBuffers = opts.MinBuffers
	}
	src, err := openSource(opts, tags)
	if err != nil {
		return nil, err
	}
	s := newSession(src, opts, tags)
	if !opts.NoSignalHandler {
		s.handleInterrupt()
	}
	go s.consume()
	return s, nil
}

// newSession builds a session around a started source; consume must be
// started by the caller.
func newSession(src source, opts Options, tags []tagPattern) *Session {
	n := opts.QueueSize
	if n <= 0 {
		n = defaultSlots
	}
	if n > maxSlots {
		n = maxSlots
	}
	s := &Session{
		src:     src,
		opts:    opts,
		free:    make(chan *slot, n),
		full:    make(chan *slot, n),
		done:    make(chan struct{}),
		aborted: make(chan struct{}),
		stalled: make(chan struct{}),
		ended:   make(chan struct{}),
	}
	s.filter.tags = tags
	clk, ptr := src.clock(), src.pointerSize()
	slots := make([]slot, n)
	for i := range slots {
		slots[i].dec = etw.RecordDecoder{Clock: clk, PointerSize: ptr}
		s.free <- &slots[i]
	}
	s.synDec = etw.RecordDecoder{Clock: clk, PointerSize: ptr}
	s.window = opts.ReorderWindow
	if s.window == 0 {
		s.window = defaultReorder
	}
	if s.window < 0 {
		s.window = 0
	}
	if s.window > 0 {
		s.ticks = clk.Ticks(s.window)
		// Leave the consumer free slots (the current and the held image
		// event are out of the heap too).
		s.highW = n - n/8 - 2
		if s.highW < 1 {
			s.highW = 1
		}
		s.order = make(slotHeap, 0, n)
		s.timer = time.NewTimer(time.Hour)
		s.timer.Stop()
	}
	if !opts.NoPDBIdentity {
		s.ids = newIdentities(src.resolver(), openFile)
	}
	return s
}

// openFile opens an image file for reading its headers.
func openFile(name string) (io.ReaderAt, int64, io.Closer, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return f, st.Size(), f, nil
}

// consume runs the source until the trace ends.
func (s *Session) consume() {
	defer close(s.ended)
	defer func() {
		if p := recover(); p != nil {
			s.runErr = fmt.Errorf("live: consumer panicked: %v", p)
			s.stopSource()
		}
	}()
	s.runErr = s.src.run(s)
}

// record is called by the source for every record, on the consumer's
// goroutine. It copies the record into a free slot, blocking while the
// reader is behind (the kernel buffers meanwhile, and counts what it loses).
func (s *Session) record(h *etw.RecordHeader, ctx etw.BufferContext, ext []etw.ExtItem, user []byte) bool {
	s.records.Add(1)
	if h.ProviderID == rtLostEventGUID {
		s.lostRecs.Add(1)
		return true
	}
	if !s.filter.keep(h, user) {
		s.filtered.Add(1)
		return true
	}
	if !s.opts.Rundown && isRundown(h) {
		s.filtered.Add(1)
		return true
	}
	sl := s.freeSlot()
	if sl == nil {
		s.dropped.Add(1)
		return false
	}
	if err := sl.dec.Decode(&sl.ev, h, ctx, ext, user); err != nil {
		s.decodeErrs.Add(1)
		s.free <- sl
		return true
	}
	sl.ev.Offset = s.seq
	s.seq++
	s.full <- sl // never blocks: there are as many places as slots
	return true
}

// drainStall bounds how long a draining consumer waits for the reader to
// free a slot before it gives up and drops the rest (a variable for
// tests).
var drainStall = 5 * time.Second

// freeSlot returns a free slot, waiting for the reader while the queue is
// full. After Abort, or when a draining session's reader has taken
// nothing for drainStall, it returns nil: the consumer then stops.
func (s *Session) freeSlot() *slot {
	select {
	case sl := <-s.free:
		return sl
	default:
	}
	select {
	case sl := <-s.free:
		return sl
	case <-s.aborted:
		return nil
	case <-s.done:
	}
	// Closing: the reader may be gone. Tell Close, then wait a while.
	s.stallOnce.Do(func() { close(s.stalled) })
	t := time.NewTimer(drainStall)
	defer t.Stop()
	select {
	case sl := <-s.free:
		return sl
	case <-s.aborted:
	case <-t.C:
		s.abort()
	}
	return nil
}

// rtLostEventGUID is the provider of the RT_LostEvent records a real-time
// consumer receives when events or buffers were lost.
var rtLostEventGUID = etw.MustParseGUID("6a399ae0-4bc6-4de9-870b-3657f8947e7e")

// isRundown reports whether a classic record is a process, thread or image
// DCStart/DCEnd event.
func isRundown(h *etw.RecordHeader) bool {
	if h.Flags&etw.EventHeaderFlagClassicHeader == 0 {
		return false
	}
	switch h.ProviderID {
	case etw.ProcessGUID, etw.ThreadGUID, etw.ImageGUID:
		return h.Descriptor.Opcode == 3 || h.Descriptor.Opcode == 4
	}
	return false
}

// ReadEvent returns the next event. The Event and the slices it holds are
// owned by the session and valid only until the next call; use
// [etw.Event.Clone] to keep one, as with [etw.Reader.ReadEvent].
//
// Before every Image Load or DCStart event whose file carries a CodeView
// record, ReadEvent returns a synthesized KernelTraceControl DbgID_RSDS
// event (FULL_HEADER record, class [etw.KernelTraceControlGUID], opcode 36,
// version 2, the image event's timestamp, process and thread), in the
// order a merged trace has them.
//
// Events are returned in timestamp order within [Options.ReorderWindow]
// (see there); Stats.OutOfOrder counts the ones that arrived too late.
//
// ReadEvent blocks until an event arrives. After Close it returns every
// event the session still held or the kernel still delivered, in order,
// then os.ErrClosed; after Abort it returns os.ErrClosed at once. When the
// trace was stopped by someone else it returns the buffered events, then
// io.EOF (or the consumer's error).
func (s *Session) ReadEvent() (*etw.Event, error) {
	if s.cur != nil {
		s.free <- s.cur // never blocks
		s.cur = nil
	}
	if s.isAborted() {
		return nil, s.closedAborted()
	}
	if s.held != nil {
		// The image event whose DbgID event was returned last.
		s.cur, s.held = s.held, nil
		s.events.Add(1)
		return &s.cur.ev, nil
	}
	sl, err := s.next()
	if err != nil {
		return nil, err
	}
	if sl.ev.Timestamp < s.lastTS {
		s.late.Add(1)
	} else {
		s.lastTS = sl.ev.Timestamp
	}
	if s.ids != nil && parseImage(&sl.ev, &s.img) {
		if e := s.dbgID(&sl.ev); e != nil {
			s.held = sl
			s.events.Add(1)
			return e, nil
		}
	}
	s.cur = sl
	s.events.Add(1)
	return &sl.ev, nil
}

// next returns the next slot to deliver: the oldest held one once the
// reorder window allows, or the next arrival when reordering is off.
func (s *Session) next() (*slot, error) {
	if s.window == 0 {
		select {
		case sl := <-s.full:
			return sl, nil
		case <-s.aborted:
			return nil, s.closedAborted()
		case <-s.ended:
			select {
			case sl := <-s.full:
				return sl, nil
			default:
				return nil, s.endErr()
			}
		}
	}
	for {
		// Take everything that has arrived.
		for more := true; more; {
			select {
			case sl := <-s.full:
				s.hold(sl)
			default:
				more = false
			}
		}
		if len(s.order) > 0 {
			top := s.order[0]
			if s.endSeen || len(s.order) >= s.highW || top.ev.Timestamp <= s.maxTS-s.ticks ||
				time.Since(top.arrived) >= s.window {
				return s.order.pop(), nil
			}
		} else if s.endSeen {
			return nil, s.endErr()
		}
		var wake <-chan time.Time
		if len(s.order) > 0 {
			s.timer.Reset(s.window - time.Since(s.order[0].arrived))
			wake = s.timer.C
		}
		select {
		case sl := <-s.full:
			s.hold(sl)
		case <-s.aborted:
			s.timer.Stop()
			return nil, s.closedAborted()
		case <-s.ended:
			s.endSeen = true // drain the queue on the next round
		case <-wake:
		}
		s.timer.Stop()
	}
}

// hold puts an arrived slot into the reorder heap.
func (s *Session) hold(sl *slot) {
	sl.arrived = time.Now()
	if sl.ev.Timestamp > s.maxTS {
		s.maxTS = sl.ev.Timestamp
	}
	s.order.push(sl)
}

// endErr is what ReadEvent returns once the consumer ended and every
// event was returned.
func (s *Session) endErr() error {
	switch {
	case s.runErr != nil:
		return s.runErr
	case s.isClosed():
		return os.ErrClosed
	}
	return io.EOF
}

// dbgID synthesizes the DbgID_RSDS event of the image event img (parsed
// into s.img), or returns nil when the image's identity is unknown.
func (s *Session) dbgID(img *etw.Event) *etw.Event {
	id, ok := s.ids.lookup(&s.img)
	if !ok {
		return nil
	}
	h, pay := dbgIDRecord(&s.img, id, s.synPay[:0])
	s.synPay = pay
	if img.PID != etw.NoPID {
		h.ProcessID = uint32(img.PID)
	}
	if img.TID != etw.NoTID {
		h.ThreadID = uint32(img.TID)
	}
	if err := s.synDec.Decode(&s.synth, &h, etw.BufferContext{ProcessorIndex: img.Processor}, nil, pay); err != nil {
		return nil
	}
	s.synth.Processor = img.Processor
	s.synth.Offset = -1
	s.imageIDs.Add(1)
	return &s.synth
}

// All returns an iterator over the session's events. It ends when ReadEvent
// returns os.ErrClosed or io.EOF (neither is yielded); other errors are
// yielded once and end the iteration. Events alias the session as with
// ReadEvent.
func (s *Session) All() iter.Seq2[*etw.Event, error] {
	return func(yield func(*etw.Event, error) bool) {
		for {
			e, err := s.ReadEvent()
			if err != nil {
				if errors.Is(err, os.ErrClosed) || err == io.EOF {
					return
				}
				yield(nil, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

func (s *Session) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// closedAborted counts, once, the events an aborted session held for the
// reader, and returns os.ErrClosed. It runs on the reader's side.
func (s *Session) closedAborted() error {
	if s.abortCounted {
		return os.ErrClosed
	}
	s.abortCounted = true
	n := len(s.order)
	if s.held != nil {
		n++
	}
	for more := true; more; {
		select {
		case sl := <-s.full:
			s.free <- sl
			n++
		default:
			more = false
		}
	}
	s.dropped.Add(uint64(n))
	return os.ErrClosed
}

func (s *Session) isAborted() bool {
	select {
	case <-s.aborted:
		return true
	default:
		return false
	}
}

// stopSource stops the trace once, keeping its last counters.
func (s *Session) stopSource() error {
	s.finalMu.Lock()
	defer s.finalMu.Unlock()
	if s.finalSet.Load() {
		return nil
	}
	err := s.src.stop()
	s.final = s.src.stats()
	s.finalSet.Store(true)
	return err
}

// closeWait bounds how long Close waits for the consumer to return (a
// variable for tests).
var closeWait = 5 * time.Second

// Close stops the trace session and drains it: the kernel flushes its
// buffers, the consumer hands every remaining record to the session, and
// ReadEvent returns them (with the events held for reordering, in order)
// before it reports os.ErrClosed. Close returns once the consumer has
// ended, or once it waits for a reader to take more (a reader in another
// goroutine keeps reading; if nobody reads for a few seconds the rest is
// dropped and counted in [Stats.DroppedOnClose]). A ReadEvent blocked in
// another goroutine returns the remaining events, then os.ErrClosed.
//
// A session someone else already stopped is not an error. Close is safe
// to call more than once and from any goroutine.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.closeErr = s.stopSource()
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-s.ended:
		case <-s.stalled:
		case <-t.C:
			// ProcessTrace did not return after the stop: close the
			// consumer, which still delivers what it has queued, and give
			// up after another wait.
			s.src.release()
			t.Reset(closeWait)
			select {
			case <-s.ended:
			case <-s.stalled:
			case <-t.C:
				s.abort()
			}
		}
	})
	return s.closeErr
}

// Abort stops the trace session without draining: what the kernel still
// held and what the session holds for reordering is dropped (counted in
// [Stats.DroppedOnClose]), and ReadEvent returns os.ErrClosed at once. It
// is meant for a second Ctrl-C. Abort is safe to call more than once,
// after Close and from any goroutine.
func (s *Session) Abort() error {
	s.abort()
	return s.Close()
}

// abort drops everything in flight and releases the consumer.
func (s *Session) abort() {
	s.abortOnce.Do(func() {
		close(s.aborted)
		s.src.abort()
	})
}

// Clock returns the clock of the session's timestamps: QPC ticks anchored
// at the start of the session. Every Event carries it too.
func (s *Session) Clock() *etw.Clock { return s.src.clock() }

// PointerSize returns the session's pointer size (8 on 64-bit Windows).
func (s *Session) PointerSize() int { return s.src.pointerSize() }

// Name returns the session name.
func (s *Session) Name() string { return s.opts.Name }

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	st := s.sourceStats()
	out := Stats{
		Records:             s.records.Load(),
		OutOfOrder:          s.late.Load(),
		Events:              s.events.Load(),
		Filtered:            s.filtered.Load(),
		DecodeErrors:        s.decodeErrs.Load(),
		ImageIDs:            s.imageIDs.Load(),
		LostEvents:          st.lostEvents,
		LostBuffers:         st.lostBuffers,
		RealTimeBuffersLost: st.rtBuffersLost,
		LostEventRecords:    s.lostRecs.Load(),
		KernelTagFilter:     st.kernelTagFilter,
		StackWalk:           st.stackWalk,
		DroppedOnClose:      s.dropped.Load(),
		Aborted:             s.isAborted(),
	}
	if s.ids != nil {
		out.ImageIDFailures = s.ids.failures.Load()
	}
	return out
}

// Warnings returns what the session could not set up as asked but ran
// without, such as stack walks Windows refused.
func (s *Session) Warnings() []string {
	return append([]string(nil), s.sourceStats().warnings...)
}

func (s *Session) sourceStats() sourceStats {
	if s.finalSet.Load() {
		s.finalMu.Lock()
		defer s.finalMu.Unlock()
		return s.final
	}
	return s.src.stats()
}

// handleInterrupt closes the session on the first Ctrl-C, aborts it on the
// second and then restores the default behaviour.
func (s *Session) handleInterrupt() {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var once sync.Once
	stop := func() { once.Do(func() { signal.Stop(ch) }) }
	go func() {
		defer stop()
		for {
			select {
			case <-ch:
				if !s.isClosed() {
					go s.Close()
					continue
				}
				// A second interrupt, or one while the program drains.
				go s.Abort()
				return
			case <-s.ended:
				return
			case <-s.aborted:
				return
			}
		}
	}()
}
