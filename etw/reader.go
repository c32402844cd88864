package etw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"unsafe"
)

// Order selects the order in which a [Reader] delivers events.
type Order int

const (
	// TimeOrder delivers events sorted by timestamp across processors: a
	// k-way merge of the per-processor buffer chains, each taken in
	// sequence-number order. Records with equal timestamps keep the order of
	// the processor stream that is current, then processor order. This is
	// the default.
	TimeOrder Order = iota
	// FileOrder delivers records as they are stored: buffer by buffer in
	// file order, records in buffer order.
	FileOrder
)

// Compression is the compression format of a trace's buffers
// (COMPRESSION_FORMAT_* from the first buffer's State field).
type Compression uint16

// Compression formats.
const (
	CompressionNone      Compression = 0
	CompressionLZNT1     Compression = 2 // COMPRESSION_FORMAT_LZNT1
	CompressionXpress    Compression = 3 // COMPRESSION_FORMAT_XPRESS, plain LZ77
	CompressionXpressHuf Compression = 4 // COMPRESSION_FORMAT_XPRESS_HUFF
)

// String returns the census name: "none", "LZNT1", "XPRESS(LZ77)",
// "XPRESS_HUFF" or "format(N)".
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionLZNT1:
		return "LZNT1"
	case CompressionXpress:
		return "XPRESS(LZ77)"
	case CompressionXpressHuf:
		return "XPRESS_HUFF"
	}
	return "format(" + itoa(uint64(c)) + ")"
}

// Stats counts what a [Reader] has seen so far. Damage is data: lost
// events and buffers flagged in buffer headers, records that could not be
// framed and buffers skipped because of damage are counted here.
type Stats struct {
	Buffers           int   // buffers in the file (from the buffer walk)
	CompressedBuffers int   // buffers with the compressed flag
	BuffersRead       int   // buffers whose records have been read
	Events            int64 // records delivered
	Bytes             int64 // buffer bytes read from the input
	Errors            int   // FormatErrors returned
	DamagedBuffers    int   // buffers with at least one FormatError
	EventsLostBuffers int   // buffers flagged ETW_BUFFER_FLAG_EVENTS_LOST
	BufferLostBuffers int   // buffers flagged ETW_BUFFER_FLAG_BUFFER_LOST
	UnknownRecords    int64 // records of header types without a known layout
}

// Reader reads the events of an ETL file. Create one with [Open] or
// [NewReader]; read with [Reader.ReadEvent] or [Reader.All].
//
// A Reader is not safe for concurrent use.
type Reader struct {
	ra     io.ReaderAt
	size   int64 // -1 until the end of a followed zip member (see follow.go)
	closer io.Closer
	name   string

	src     *inflating             // the zip member the walk follows, while it is inflated
	walkOff int64                  // offset of the walk's next buffer header
	walked  bool                   // the walk is over
	walkHdr [bufferHeaderSize]byte // the walk's header scratch

	hdr      *LogfileHeader
	hdrEvent *Event // the header event, cloned
	clock    *Clock
	comp     Compression
	bufs     []BufferInfo
	tailErrs []error // walk errors, reported after the events

	order   Order
	started bool
	streams []*stream
	h       streamHeap
	cur     *stream   // stream whose event was returned last
	toFill  []*stream // streams that need their next record framed
	err     error     // sticky non-format error
	stats   Stats
	damaged int   // last buffer index counted as damaged, +1
	mem     int64 // bytes held in stream buffers, scratch and the index

	lim    Limits
	disk   int64      // bytes the input holds on disk (a zip member's compressed size)
	cdata  []byte     // compressed bytes scratch, shared by all streams
	inUse  int        // streams holding a buffer
	budget int64      // see grow
	prop   bool       // budget is the proportional one, not Limits.MaxMemory
	ahead  bool       // decompress buffers ahead (see ahead.go)
	lean   *leanHooks // hooks framed lean, or nil (see lean.go)
	pool   *aheadPool // the workers that do, made with the first job
	depth  int        // buffers decompressed ahead per stream, at most
	spare  []*aheadJob
	// queuedJobs counts the jobs in streams' ahead lists; maxData and
	// maxRaw size the jobs' buffers.
	queuedJobs, maxData, maxRaw int
}

// stream is one chain of buffers read in order: one processor's buffers in
// sequence order (time order), or all buffers (file order).
type stream struct {
	proc  int
	rank  int   // tie-break rank among streams
	bufs  []int // indexes into Reader.bufs
	next  int   // next position in bufs
	bi    int   // buffer index being read, -1 before the first
	data  []byte
	pos   int
	end   int
	comp  bool
	ev    Event
	has   bool  // ev holds a framed record
	done  bool  // no records left, buffer released
	trunc error // damage to report once the buffer's good records are read

	ahead  []*aheadJob // buffers being decompressed ahead, in stream order
	queued int         // next position in bufs to consider for ahead
}

// Open opens the ETL file name. A name of the form "archive.zip!member"
// opens that member of a zip archive, and a ".zip" name alone opens the
// archive's only ".etl" member. The Reader must be closed.
func Open(name string) (*Reader, error) { return OpenLimited(name, Limits{}) }

// OpenLimited is [Open] with resource limits other than the defaults. A
// zip member's memory budget follows its compressed size; a member whose
// inflated data stops early (a corrupt member) is read up to the damage,
// which is reported as a *[FormatError] after its events.
func OpenLimited(name string, lim Limits) (*Reader, error) {
	in, err := openInput(name, lim)
	if err != nil {
		return nil, err
	}
	r := &Reader{ra: in.ra, size: in.size, disk: in.disk, lim: lim, src: in.src}
	if err := r.init(); err != nil {
		if r.src != nil {
			_, in.damage = r.src.wait()
		}
		if in.damage != nil {
			err = fmt.Errorf("%w (%v)", err, in.damage)
		}
		in.closer.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if in.damage != nil {
		r.tailErrs = append(r.tailErrs, in.damage)
	}
	r.closer = in.closer
	r.name = name
	return r, nil
}

// NewReader returns a Reader for the ETL data in r, which is size bytes
// long. It reads the header buffer and the 72-byte header of every buffer
// (to index the per-processor chains), but no event data. In a compressed
// trace, ra is also read from the goroutines that decompress ahead, at the
// same time as from the reading one (see the package documentation's
// section on concurrency).
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) {
	return NewReaderLimited(ra, size, Limits{})
}

// NewReaderLimited is [NewReader] with resource limits other than the
// defaults.
func NewReaderLimited(ra io.ReaderAt, size int64, lim Limits) (*Reader, error) {
	r := &Reader{ra: ra, size: size, disk: size, lim: lim}
	if err := r.init(); err != nil {
		return nil, err
	}
	return r, nil
}

// Close releases the file opened by [Open] and ends the goroutines that
// decompress ahead, if any: it returns once each has finished the buffer
// it was on, so that none reads the input afterwards. For a Reader made by
// [NewReader] it closes nothing.
func (r *Reader) Close() error {
	r.stopAhead(true)
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}

// Name returns the name given to [Open], or "".
func (r *Reader) Name() string { return r.name }

// Header returns the trace's logfile header (the first record).
func (r *Reader) Header() *LogfileHeader { return r.hdr }

// HeaderEvent returns the logfile header record itself (a copy).
func (r *Reader) HeaderEvent() *Event { return r.hdrEvent }

// Clock returns the clock that converts the trace's timestamps.
func (r *Reader) Clock() *Clock { return r.clock }

// PointerSize returns the pointer size of the trace (from the header).
func (r *Reader) PointerSize() int { return int(r.hdr.PointerSize) }

// Compression returns the compression format of the trace's buffers.
func (r *Reader) Compression() Compression { return r.comp }

// Buffers returns the per-buffer facts found by the buffer walk, in file
// order. The slice is the reader's own; do not modify it. For a zip member
// still being inflated, it first waits for the end of the walk.
func (r *Reader) Buffers() []BufferInfo {
	r.walk()
	return r.bufs
}

// Stats returns the counters so far. For a zip member still being
// inflated, it first waits for the end of the buffer walk, which sets the
// buffer counts.
func (r *Reader) Stats() Stats {
	r.walk()
	return r.stats
}

// PendingErrors returns the damage already known that [Reader.ReadEvent]
// has not returned yet: what opening found (a zip member whose inflation
// failed, a buffer walk that broke off, a buffer index over the memory
// ceiling), which ReadEvent returns after the last event, in that order.
// A caller that stops reading before the end reports these so that damage
// known up front is not lost; once ReadEvent has returned an error, it is
// no longer pending. The slice is a copy. For a zip member still being
// inflated, it first waits for the end of the buffer walk.
func (r *Reader) PendingErrors() []error {
	r.walk()
	return slices.Clone(r.tailErrs)
}

// SetOrder selects the delivery order. It must be called before the first
// ReadEvent; later calls return an error.
func (r *Reader) SetOrder(o Order) error {
	if r.started {
		return errors.New("etw: SetOrder after reading started")
	}
	if o != TimeOrder && o != FileOrder {
		return fmt.Errorf("etw: unknown order %d", o)
	}
	r.order = o
	return nil
}

// setBudget sets the memory budget from the limits and the input's size
// on disk (see grow).
func (r *Reader) setBudget() {
	r.budget, r.prop = r.lim.maxMemory(), false
	if prop := memAllowance + memPerInputByte*r.disk; prop < r.budget && r.disk < 1<<40 {
		r.budget, r.prop = prop, true
	}
}

func (r *Reader) init() error {
	r.setBudget()
	if size := r.sizeAtLeast(bufferHeaderSize); size == 0 {
		return fmt.Errorf("%w: empty input", ErrNotETL)
	} else if size < bufferHeaderSize {
		return fmt.Errorf("%w: %d bytes is shorter than a buffer header", ErrNotETL, size)
	}
	var hb [bufferHeaderSize]byte
	if _, err := r.ra.ReadAt(hb[:], 0); err != nil {
		return fmt.Errorf("etw: reading header buffer: %w", err)
	}
	if err := checkStart(hb[:]); err != nil {
		return err
	}
	var first BufferInfo
	parseBufferHeader(hb[:], &first)
	data := make([]byte, r.sizeAtLeast(int64(first.Size)))
	if _, err := r.ra.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("etw: reading header buffer: %w", err)
	}
	// The first record must be the logfile header event: a SYSTEM header
	// with hook 0x0000.
	p := bufferHeaderSize
	if len(data) < p+32 {
		return fmt.Errorf("%w: header buffer truncated at %d bytes", ErrNotETL, len(data))
	}
	if err := checkStart(data); err != nil {
		return err
	}
	var ev Event
	end := int(first.DataEnd())
	if end > len(data) || end < p {
		end = len(data)
	}
	size, ferr := frameRecord(&ev, data, p, end)
	if ferr != nil {
		return &FormatError{Buffer: 0, Offset: int64(p), RecordOffset: -1, Msg: "logfile header event: " + ferr.msg, Err: ErrNotETL}
	}
	_ = size
	ptr := ev.PointerSize()
	if len(ev.Payload) < logfileHeaderSize(ptr) {
		return &FormatError{Buffer: 0, Offset: int64(p), RecordOffset: -1,
			Msg: fmt.Sprintf("logfile header event payload is %d bytes, want %d", len(ev.Payload), logfileHeaderSize(ptr)), Err: ErrNotETL}
	}
	h, err := ParseLogfileHeader(ev.Payload, ptr)
	if err != nil {
		return &FormatError{Buffer: 0, Offset: int64(p), RecordOffset: -1, Msg: "logfile header", Err: err}
	}
	r.hdr = h
	r.clock = NewClock(h, ev.Timestamp)
	ev.Processor = first.Processor
	ev.Offset = int64(p)
	ev.clock = r.clock
	r.hdrEvent = ev.Clone()
	if h.Compressed() {
		r.comp = Compression(first.State & 0xFFFF)
		switch r.comp {
		case CompressionLZNT1, CompressionXpress, CompressionXpressHuf:
		default:
			// Unknown value: buffers flagged compressed report it.
		}
	}
	if r.src != nil && !r.followFits() {
		// Wait for the whole member (see follow.go).
		r.size, _ = r.src.wait()
	}
	if r.size >= 0 {
		r.walk()
	}
	return nil
}

// checkStart reports whether b, the first bytes of an input, start like an
// ETL file: a plausible size for the header buffer and, when b holds its
// first 8 bytes, a logfile header event as the first record. It needs no
// more than the first 80 bytes, so that a zip member is judged before it is
// inflated.
func checkStart(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty input", ErrNotETL)
	}
	if len(b) < bufferHeaderSize {
		return fmt.Errorf("%w: %d bytes is shorter than a buffer header", ErrNotETL, len(b))
	}
	if size := binary.LittleEndian.Uint32(b); size < bufferHeaderSize+32 || size > MaxBufferSize {
		return fmt.Errorf("%w: first buffer size %d is not plausible", ErrNotETL, size)
	}
	p := bufferHeaderSize
	if len(b) < p+8 {
		return nil
	}
	if b[p+3]&0xC0 != 0xC0 || (HeaderType(b[p+2]) != HeaderSystem32 && HeaderType(b[p+2]) != HeaderSystem64) ||
		binary.LittleEndian.Uint16(b[p+6:]) != uint16(HookHeader) {
		return fmt.Errorf("%w: first record is not a logfile header event", ErrNotETL)
	}
	return nil
}

// plausible reports whether a buffer header could start a buffer.
func plausible(b *BufferInfo) bool {
	if b.Size < bufferHeaderSize || b.Size > MaxBufferSize {
		return false
	}
	if !b.Compressed() && b.SavedOffset > b.Size {
		return false
	}
	return b.SavedOffset <= MaxBufferSize
}

// walk reads every buffer header, following each buffer's own BufferSize,
// or the rest of them when the walk follows a zip member's inflation.
func (r *Reader) walk() {
	for r.walkNext() {
	}
}

// walkNext takes the walk one step, and reports whether it goes on. At its
// end it counts the buffers.
func (r *Reader) walkNext() bool {
	if r.walked {
		return false
	}
	if r.walkStep() {
		return true
	}
	r.walked = true
	r.walkEnd()
	return false
}

// walkStep indexes the buffer at r.walkOff, or finds where to resume after
// a damaged header, and reports whether the walk goes on.
func (r *Reader) walkStep() bool {
	hb := r.walkHdr[:]
	off := r.walkOff
	if r.sizeAtLeast(off+1) <= off {
		return false
	}
	idx := len(r.bufs)
	if rest := r.sizeAtLeast(off+bufferHeaderSize) - off; rest < bufferHeaderSize {
		r.tailErrs = append(r.tailErrs, &FormatError{Buffer: idx, Offset: off, RecordOffset: -1,
			Msg: fmt.Sprintf("%d trailing bytes are too short for a buffer header", rest), Err: ErrTruncated})
		return false
	}
	if _, err := r.ra.ReadAt(hb, off); err != nil && !errors.Is(err, io.EOF) {
		r.tailErrs = append(r.tailErrs, fmt.Errorf("etw: reading buffer %d at offset 0x%x: %w", idx, off, err))
		return false
	}
	bi := BufferInfo{Index: idx, FileOffset: off}
	parseBufferHeader(hb, &bi)
	if !plausible(&bi) {
		ferr := &FormatError{Buffer: idx, Offset: off, RecordOffset: -1,
			Msg: fmt.Sprintf("implausible buffer header (BufferSize %d, SavedOffset %d)", bi.Size, bi.SavedOffset), Err: ErrCorrupt}
		r.tailErrs = append(r.tailErrs, ferr)
		// Resynchronise on the session's buffer size when the file is
		// uncompressed and the next slot looks like a buffer.
		if next, ok := r.resync(off); ok {
			r.walkOff = next
			return true
		}
		return false
	}
	bi.Avail = bi.Size
	if rest := r.sizeAtLeast(off+int64(bi.Size)) - off; int64(bi.Size) > rest {
		bi.Avail = uint32(rest)
	}
	if r.mem+indexCost > r.budget {
		r.tailErrs = append(r.tailErrs, &LimitError{Resource: "the buffer index", Buffer: idx, Offset: off,
			Need: r.mem + indexCost, Limit: r.budget, Why: r.why()})
		return false
	}
	r.mem += indexCost
	r.bufs = append(r.bufs, bi)
	r.walkOff = off + int64(bi.Size)
	return true
}

// walkEnd counts the buffers once the walk is over.
func (r *Reader) walkEnd() {
	r.endFollow()
	r.stats.Buffers = len(r.bufs)
	for i := range r.bufs {
		b := &r.bufs[i]
		if b.Compressed() {
			r.stats.CompressedBuffers++
		}
		if b.Flags&BufferEventsLost != 0 {
			r.stats.EventsLostBuffers++
		}
		if b.Flags&BufferBufferLost != 0 {
			r.stats.BufferLostBuffers++
		}
	}
}

// indexCost is the memory charged for each buffer of the index: its
// BufferInfo with room for the slice to double, and its place in a stream.
const indexCost = 2*int64(unsafe.Sizeof(BufferInfo{})) + 8

// resync looks for the next plausible buffer after a damaged header at off,
// at multiples of the session buffer size.
func (r *Reader) resync(off int64) (int64, bool) {
	bs := int64(r.hdr.BufferSize)
	if bs < bufferHeaderSize || bs > MaxBufferSize || r.hdr.Compressed() {
		return 0, false
	}
	var hb [bufferHeaderSize]byte
	for next := (off/bs + 1) * bs; r.sizeAtLeast(next+bufferHeaderSize) == next+bufferHeaderSize; next += bs {
		if _, err := r.ra.ReadAt(hb[:], next); err != nil {
			return 0, false
		}
		var bi BufferInfo
		parseBufferHeader(hb[:], &bi)
		if plausible(&bi) && int64(bi.Size) == bs {
			return next, true
		}
	}
	return 0, false
}

func (r *Reader) start() {
	r.started = true
	if r.order != FileOrder {
		r.walk()
	}
	if r.order == FileOrder {
		s := &stream{bi: -1, rank: 0}
		s.bufs = make([]int, len(r.bufs))
		for i := range r.bufs {
			s.bufs[i] = i
		}
		r.streams = []*stream{s}
	} else {
		byProc := map[uint16]*stream{}
		var procs []uint16
		for i := range r.bufs {
			p := r.bufs[i].Processor
			s := byProc[p]
			if s == nil {
				s = &stream{proc: int(p), bi: -1}
				byProc[p] = s
				procs = append(procs, p)
			}
			s.bufs = append(s.bufs, i)
		}
		slices.Sort(procs)
		for rank, p := range procs {
			s := byProc[p]
			s.rank = rank
			slices.SortStableFunc(s.bufs, func(a, b int) int {
				sa, sb := r.bufs[a].Sequence, r.bufs[b].Sequence
				switch {
				case sa < sb:
					return -1
				case sa > sb:
					return 1
				}
				return 0
			})
			r.streams = append(r.streams, s)
		}
	}
	r.ahead = r.aheadFits()
	if r.ahead {
		// The first buffers of the streams are decompressed on both
		// cores too, while the reader waits for the first.
		r.queueAhead(nil)
	}
	r.h = r.h[:0]
	// Fill in reverse so that streams are primed in rank order.
	for i := len(r.streams) - 1; i >= 0; i-- {
		r.toFill = append(r.toFill, r.streams[i])
	}
}

// ReadEvent returns the next event. At the end it returns io.EOF.
//
// The returned Event and the slices it holds alias the reader's buffers and
// are valid only until the next call; use [Event.Clone] to keep one.
//
// Damage in a buffer is returned as a *[FormatError] after every good event
// before it; the reader then skips the rest of that buffer, and the next
// call continues with the next buffer. Other errors (I/O) are sticky.
func (r *Reader) ReadEvent() (*Event, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.started {
		r.start()
	}
	if s := r.cur; s != nil && s.has {
		// The event returned last is consumed now.
		s.has = false
		if len(r.toFill) == 0 {
			// The common case: only the current stream moves on. Its
			// next record is compared with the earliest other stream's
			// only, and when that one is earlier the two trade places
			// in the heap in one sift.
			if err := r.fill(s); err != nil {
				// s stays queued: the next call continues with its
				// next buffer.
				r.toFill = append(r.toFill, s)
				return nil, r.fail(err)
			}
			if s.has {
				if len(r.h) == 0 || s.ev.Timestamp <= r.h[0].ts {
					// Ties keep the current stream.
					return r.deliver(s)
				}
				return r.deliver(r.h.replaceTop(s))
			}
		} else {
			r.toFill = append(r.toFill, s)
		}
	}
	for len(r.toFill) > 0 {
		s := r.toFill[len(r.toFill)-1]
		if err := r.fill(s); err != nil {
			// s stays queued: the next call continues with its next
			// buffer.
			return nil, r.fail(err)
		}
		r.toFill = r.toFill[:len(r.toFill)-1]
		if !s.has {
			continue
		}
		// Ties keep the current stream: go on with it while its next
		// record is not later than every other stream's.
		if s == r.cur && len(r.toFill) == 0 && (len(r.h) == 0 || s.ev.Timestamp <= r.h[0].ts) {
			return r.deliver(s)
		}
		r.h.push(s)
	}
	if len(r.h) == 0 {
		r.cur = nil
		if len(r.tailErrs) > 0 {
			err := r.tailErrs[0]
			r.tailErrs = r.tailErrs[1:]
			return nil, r.fail(err)
		}
		return nil, io.EOF
	}
	return r.deliver(r.h.pop())
}

func (r *Reader) deliver(s *stream) (*Event, error) {
	r.cur = s
	r.stats.Events++
	return &s.ev, nil
}

// fail records a non-format error as sticky and counts format errors.
func (r *Reader) fail(err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		r.stats.Errors++
		if fe.Buffer+1 != r.damaged {
			r.damaged = fe.Buffer + 1
			r.stats.DamagedBuffers++
		}
		return err
	}
	r.err = err
	return err
}

// All returns an iterator over the remaining events and errors. Iteration
// stops after io.EOF (which is not yielded) or a non-format error. Events
// alias the reader as with [Reader.ReadEvent].
func (r *Reader) All() iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		for {
			// One loop for both kinds of reader, so that yield can be
			// inlined: a loop of its own for lean readers called it
			// through a pointer for every event.
			var ev *Event
			var err error
			if r.lean != nil {
				ev, err = r.nextLean()
			} else {
				ev, err = r.ReadEvent()
			}
			if err == io.EOF {
				return
			}
			if !yield(ev, err) {
				return
			}
			if err != nil {
				var fe *FormatError
				if !errors.As(err, &fe) {
					return
				}
			}
		}
	}
}

// fill frames the next record of s into s.ev, loading buffers as needed.
// On return without error, s.has reports whether a record is available.
func (r *Reader) fill(s *stream) error {
	for {
		if s.bi >= 0 && s.pos < s.end {
			if r.lean != nil {
				if size := frameLean(&s.ev, r.lean, s.data, s.pos, s.end); size > 0 {
					r.place(s)
					s.pos += (size + 7) &^ 7
					s.has = true
					return nil
				}
			}
			size, ferr := frameRecord(&s.ev, s.data, s.pos, s.end)
			if ferr != nil {
				s.pos = s.end // skip the rest of the buffer
				if s.trunc != nil && errors.Is(s.trunc, ErrTruncated) {
					// The record was cut by the end of the input.
					err := s.trunc
					s.trunc = nil
					return err
				}
				return r.recordError(ferr, &r.bufs[s.bi], s)
			}
			r.place(s)
			if !s.ev.Header.Known() {
				r.stats.UnknownRecords++
			}
			s.pos += (size + 7) &^ 7
			s.has = true
			return nil
		}
		if s.bi >= 0 && s.trunc != nil {
			err := s.trunc
			s.trunc = nil
			return err
		}
		if r.order == FileOrder {
			r.follow(s, s.next+1)
		}
		if s.next >= len(s.bufs) {
			s.has = false
			r.release(s)
			return nil
		}
		s.bi = s.bufs[s.next]
		s.next++
		err := r.load(s)
		if r.ahead {
			r.queueAhead(s)
		}
		if err != nil {
			return err
		}
	}
}

// place sets the fields of s.ev that come from its buffer and its place in
// it, after frameRecord or frameLean has framed the record at s.pos.
func (r *Reader) place(s *stream) {
	ev := &s.ev
	bi := &r.bufs[s.bi]
	ev.Processor = bi.Processor
	ev.Buffer = s.bi
	ev.clock = r.clock
	if s.comp {
		// The offset in the decompressed buffer.
		ev.Offset = int64(s.pos)
		ev.inComp = true
	} else {
		ev.Offset = bi.FileOffset + int64(s.pos)
		ev.inComp = false
	}
}

func (r *Reader) recordError(ferr *frameError, bi *BufferInfo, s *stream) error {
	if s.comp {
		return ferr.at(bi.Index, bi.FileOffset, int64(s.pos))
	}
	return ferr.at(bi.Index, bi.FileOffset+int64(s.pos), -1)
}

// load reads buffer s.bi into s.data and sets the record cursor.
func (r *Reader) load(s *stream) error {
	bi := &r.bufs[s.bi]
	s.pos, s.end, s.comp, s.trunc = bufferHeaderSize, bufferHeaderSize, false, nil
	r.stats.BuffersRead++
	avail := int(bi.Avail)
	if bi.Compressed() {
		s.comp = true
		if len(s.ahead) > 0 && s.ahead[0].bi.Index == s.bi {
			return r.takeAhead(s, bi)
		}
		if err := r.grow(&r.cdata, avail, bi); err != nil {
			return err
		}
		raw := r.cdata[:avail]
		if err := readRaw(r.ra, raw, bi); err != nil {
			return err
		}
		r.stats.Bytes += int64(avail)
		want, err := r.checkCompressed(bi)
		if err != nil {
			return err
		}
		if err := r.growData(s, want, bi); err != nil {
			return err
		}
		s.data = s.data[:want]
		s.end, s.trunc = inflate(r.format(), bi, s.data, raw)
		return nil
	}
	if err := r.growData(s, avail, bi); err != nil {
		return err
	}
	s.data = s.data[:avail]
	if err := readRaw(r.ra, s.data, bi); err != nil {
		return err
	}
	r.stats.Bytes += int64(avail)
	end := int(bi.DataEnd())
	switch {
	case end == 0:
		end = bufferHeaderSize
	case end < bufferHeaderSize:
		s.trunc = &FormatError{Buffer: bi.Index, Offset: bi.FileOffset, RecordOffset: -1,
			Msg: fmt.Sprintf("end of data %d lies inside the buffer header", end), Err: ErrCorrupt}
		end = bufferHeaderSize
	case end > int(bi.Size):
		s.trunc = &FormatError{Buffer: bi.Index, Offset: bi.FileOffset + 4, RecordOffset: -1,
			Msg: fmt.Sprintf("end of data %d exceeds BufferSize %d", end, bi.Size), Err: ErrCorrupt}
		end = int(bi.Size)
	}
	if avail < int(bi.Size) {
		// A buffer cut off by the end of the input: deliver the records
		// that are whole, then report the truncation.
		s.trunc = &FormatError{Buffer: bi.Index, Offset: bi.FileOffset + int64(avail), RecordOffset: -1,
			Msg: fmt.Sprintf("buffer truncated: %d of %d bytes present", avail, bi.Size), Err: ErrTruncated}
		end = min(end, avail)
	}
	s.end = end
	return nil
}

// readRaw reads buffer bi's bytes in the file into raw.
func readRaw(ra io.ReaderAt, raw []byte, bi *BufferInfo) error {
	if _, err := ra.ReadAt(raw, bi.FileOffset); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("etw: reading buffer %d at offset 0x%x: %w", bi.Index, bi.FileOffset, err)
	}
	return nil
}

// format returns the compression format of the trace's compressed buffers.
func (r *Reader) format() Compression {
	if r.comp == CompressionNone {
		return CompressionXpress
	}
	return r.comp
}

// checkCompressed returns the decompressed size compressed buffer bi
// claims (its SavedOffset), or a *FormatError when that is implausible.
func (r *Reader) checkCompressed(bi *BufferInfo) (int, error) {
	avail := int(bi.Avail)
	want := int(bi.SavedOffset)
	if want < bufferHeaderSize {
		return 0, &FormatError{Buffer: bi.Index, Offset: bi.FileOffset, RecordOffset: -1,
			Msg: fmt.Sprintf("compressed buffer with SavedOffset %d", bi.SavedOffset), Err: ErrCorrupt}
	}
	if limit := MaxExpansion*(avail-bufferHeaderSize) + expansionSlack; want-bufferHeaderSize > limit {
		return 0, &FormatError{Buffer: bi.Index, Offset: bi.FileOffset + 4, RecordOffset: -1,
			Msg: fmt.Sprintf("SavedOffset %d is implausible for %d compressed bytes (more than %d times)", want, avail-bufferHeaderSize, MaxExpansion), Err: ErrCorrupt}
	}
	if hs := int(r.hdr.BufferSize); hs >= bufferHeaderSize && want > hs {
		return 0, &FormatError{Buffer: bi.Index, Offset: bi.FileOffset + 4, RecordOffset: -1,
			Msg: fmt.Sprintf("SavedOffset %d exceeds the session's BufferSize %d", want, hs), Err: ErrCorrupt}
	}
	return want, nil
}

// inflate decompresses the compressed buffer bi, whose bytes in the file
// are raw, into data (SavedOffset bytes long). It returns the end of the
// records to deliver and the damage to report after them, if any. It
// touches nothing but its arguments, so that it may run on another
// goroutine.
func inflate(format Compression, bi *BufferInfo, data, raw []byte) (int, error) {
	want := len(data)
	copy(data, raw[:bufferHeaderSize])
	n, err := decompress(format, data[bufferHeaderSize:], raw[bufferHeaderSize:])
	if err != nil {
		// Deliver the records that decompressed before the damage.
		n = max(0, min(n, want-bufferHeaderSize))
		end := (bufferHeaderSize + n) &^ 7
		fe := &FormatError{Buffer: bi.Index, Offset: bi.FileOffset, RecordOffset: -1, Err: ErrCorrupt,
			Msg: fmt.Sprintf("decompressing %s buffer: %v", format, err)}
		switch {
		case errors.Is(err, ErrUnsupportedCompression):
			fe.Msg = fmt.Sprintf("compression format %d (%s) not supported", uint16(format), format)
			fe.Err = ErrUnsupportedCompression
			end = bufferHeaderSize
		case bi.Avail < bi.Size:
			fe.Msg = fmt.Sprintf("compressed buffer truncated: %d of %d bytes present", bi.Avail, bi.Size)
			fe.Err = ErrTruncated
		}
		return end, fe
	}
	if n != want-bufferHeaderSize {
		fe := &FormatError{Buffer: bi.Index, Offset: bi.FileOffset, RecordOffset: int64(bufferHeaderSize + n),
			Msg: fmt.Sprintf("decompressed %d bytes, SavedOffset says %d", n, want-bufferHeaderSize), Err: ErrCorrupt}
		if bi.Avail < bi.Size {
			fe.Msg = fmt.Sprintf("compressed buffer truncated: %d of %d bytes present", bi.Avail, bi.Size)
			fe.Err = ErrTruncated
		}
		return (bufferHeaderSize + n) &^ 7, fe
	}
	return want, nil
}

// grow makes *buf hold at least n bytes, within the reader's memory budget:
// the buffers of all streams, the scratch and the index together stay below
// the smaller of Limits.MaxMemory and a fixed allowance plus a multiple of
// the input's size on disk, whatever the buffer headers claim. Past it,
// grow returns a *LimitError, which stops the reader.
func (r *Reader) grow(buf *[]byte, n int, bi *BufferInfo) error {
	if cap(*buf) >= n {
		return nil
	}
	if need := r.mem - int64(cap(*buf)) + int64(n); need > r.budget {
		all, streams := r.inFlightNeed()
		return &LimitError{Resource: fmt.Sprintf("memory for the buffers of %d processors in flight", streams), Buffer: bi.Index, Offset: bi.FileOffset,
			Need: max(need, all), Limit: r.budget, Why: r.why()}
	}
	r.mem += int64(n - cap(*buf))
	*buf = make([]byte, n)
	return nil
}

// growData is grow for a stream's buffer.
func (r *Reader) growData(s *stream, n int, bi *BufferInfo) error {
	had := s.data != nil
	if err := r.grow(&s.data, n, bi); err != nil {
		return err
	}
	if !had {
		r.inUse++
	}
	return nil
}

// why says what sets the memory budget, for a LimitError.
func (r *Reader) why() string {
	if r.prop {
		return fmt.Sprintf("32 MiB plus %d bytes per byte of a %d-byte input", memPerInputByte, r.disk)
	}
	return "Limits.MaxMemory"
}

// inFlightNeed estimates the memory that holding the current buffer of
// every stream with records left would take, with the index and the
// scratch: what the reader would have needed when it hits its budget.
func (r *Reader) inFlightNeed() (int64, int) {
	need := r.mem
	n := 0
	for _, s := range r.streams {
		need -= int64(cap(s.data))
		bi := s.bi
		if bi < 0 && len(s.bufs) > 0 {
			bi = s.bufs[0]
		}
		if bi < 0 || s.done {
			continue
		}
		b := &r.bufs[bi]
		size := int64(b.Avail)
		if b.Compressed() {
			size = min(int64(b.SavedOffset), MaxExpansion*int64(b.Avail)+expansionSlack)
		}
		need += max(size, int64(cap(s.data)))
		n++
	}
	return need, n
}

// release drops the buffer of a stream that has no more records, so that
// the time merge holds buffers only for processors with events in flight.
func (r *Reader) release(s *stream) {
	s.done = true
	r.releaseAhead(s)
	if s.data != nil {
		r.mem -= int64(cap(s.data))
		s.data = nil
		r.inUse--
	}
}

// streamHeap is a binary min-heap of streams ordered by the timestamp of
// their next record, then by rank. Each entry carries its key, so that
// comparisons stay inside the heap's own array. Keys are distinct (ranks
// are), so the order in which streams leave it does not depend on its
// shape.
type streamHeap []heapEntry

type heapEntry struct {
	ts   int64 // timestamp of the stream's next record
	rank int
	s    *stream
}

func entry(s *stream) heapEntry { return heapEntry{s.ev.Timestamp, s.rank, s} }

func (a *heapEntry) less(b *heapEntry) bool {
	return a.ts < b.ts || a.ts == b.ts && a.rank < b.rank
}

// push adds s.
func (h *streamHeap) push(s *stream) {
	e := entry(s)
	*h = append(*h, e)
	q := *h
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !e.less(&q[p]) {
			break
		}
		q[i] = q[p]
		i = p
	}
	q[i] = e
}

// pop removes and returns the smallest stream; the heap must not be empty.
func (h *streamHeap) pop() *stream {
	q := *h
	top := q[0].s
	n := len(q) - 1
	last := q[n]
	q[n] = heapEntry{}
	*h = q[:n]
	if n > 0 {
		h.down(last)
	}
	return top
}

// replaceTop returns the smallest stream and puts s in its place: a pop and
// a push in one sift, for a stream known to be later than the smallest.
func (h streamHeap) replaceTop(s *stream) *stream {
	top := h[0].s
	h.down(entry(s))
	return top
}

// down sifts e from the root to its place, overwriting the root.
func (h streamHeap) down(e heapEntry) {
	n := len(h)
	i := 0
	for {
		c := 2*i + 1
		if c >= n || c < 0 {
			break
		}
		if r := c + 1; r < n && h[r].less(&h[c]) {
			c = r
		}
		if !h[c].less(&e) {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = e
}
