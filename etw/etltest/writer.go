package etltest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/etwkit/etwkit/etw"
)

// Errors returned by the writer. They are wrapped with details; test with
// errors.Is.
var (
	// ErrClosed reports a call after Close.
	ErrClosed = errors.New("etltest: writer is closed")
	// ErrBadRecord reports a record the writer cannot store: too short, a
	// Size field that does not match its length, or larger than a buffer.
	ErrBadRecord = errors.New("etltest: bad record")
	// ErrBadOptions reports an invalid Options value.
	ErrBadOptions = errors.New("etltest: bad options")
	// ErrHeaderFull reports that the header buffer has no room left for
	// another header record, or that it was already written.
	ErrHeaderFull = errors.New("etltest: header buffer full or already written")
)

// Defaults applied by NewWriter to zero Options fields.
const (
	DefaultBufferSize  = 64 << 10
	DefaultProcessors  = 4
	DefaultPerfFreq    = 10_000_000
	DefaultLoggerName  = "NT Kernel Logger"
	DefaultStartTicks  = 10_000_000_000 // 1000 s after boot at 10 MHz
	DefaultOSBuild     = 19045
	DefaultCPUSpeedMHz = 2995
	DefaultLoggerID    = 0x14
	defaultWindow      = 8
	minBufferSize      = 1024
	maxProcessors      = 2048
)

// DefaultStartTime is the StartTime of traces written with a zero
// Options.StartTime, so that output is deterministic.
var DefaultStartTime = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// Options configures a Writer. The zero value writes a 64-bit, 4-processor
// kernel-logger trace with 64 KiB buffers and a 10 MHz QPC clock.
type Options struct {
	// PointerSize is 4 or 8 (default); it selects the 32- or 64-bit
	// logfile header.
	PointerSize int
	// NumberOfProcessors bounds the cpu argument of WriteRecord (default
	// 4, at most 2048).
	NumberOfProcessors int
	// BufferSize is the size of data buffers in bytes: a multiple of 8
	// between 1 KiB and 16 MiB (default 64 KiB).
	BufferSize int
	// HeaderBufferSize is the size of the header buffer (default
	// BufferSize, or 1 KiB when Compress is set, as relogged files have).
	HeaderBufferSize int
	// Compress stores data buffers XPRESS (plain LZ77) compressed and sets
	// EVENT_TRACE_COMPRESSED_MODE in the log file mode.
	Compress bool

	// Clock is the clock type written to the header; 0 means QPC
	// (ClockPerfCounter). Raw clocks cannot be selected.
	Clock etw.ClockType
	// PerfFreq is the QPC frequency (default 10 MHz).
	PerfFreq int64
	// StartTime is the wall time of the header event (default
	// DefaultStartTime).
	StartTime time.Time
	// StartTicks is the raw timestamp of the header event, the anchor that
	// pairs with StartTime (default DefaultStartTicks).
	StartTicks int64
	// BootTime defaults to StartTime minus StartTicks.
	BootTime time.Time
	// EndTime defaults to the wall time of the latest timestamp written.
	EndTime time.Time

	// LoggerName (default "NT Kernel Logger") and LogFileName are the
	// strings after the logfile header.
	LoggerName  string
	LogFileName string
	// LogFileMode is written as given; EVENT_TRACE_COMPRESSED_MODE is
	// added when Compress is set.
	LogFileMode uint32
	// OSMajor.OSMinor and OSBuild describe the recording system (default
	// 10.0, build 19045).
	OSMajor, OSMinor uint8
	OSBuild          uint32
	// CPUSpeedMHz (default 2995) and TimerResolution (default 156250).
	CPUSpeedMHz     uint32
	TimerResolution uint32
	// EventsLost and BuffersLost are written to the logfile header;
	// LoseEvents adds to EventsLost.
	EventsLost  uint32
	BuffersLost uint32
	// LoggerID goes into every buffer header (default 0x14).
	LoggerID uint16
	// HeaderPID and HeaderTID identify the process and thread of the
	// logfile header event.
	HeaderPID etw.PID
	HeaderTID etw.TID
	// NoPartitionInfo leaves out the EventTrace PartitionInfoExtension
	// record (hook 0x0050, 48 zero bytes) that Windows 10 and later put
	// after the generated logfile header event.
	NoPartitionInfo bool

	// FlushOrder chooses the order in which completed buffers reach the
	// file (default Completion).
	FlushOrder FlushOrder
	// FlushWindow is the number of completed buffers held back for
	// reordering by Interleaved, Reversed and Random (default 8). Memory
	// use is about (NumberOfProcessors + FlushWindow + 1) × BufferSize.
	FlushWindow int
	// SplitBySource completes a processor's buffer whenever WriteEvent is
	// given an event whose Buffer differs from the events already in it,
	// so that a trace re-emitted from a reader keeps its buffer
	// boundaries.
	SplitBySource bool
	// OnBuffer, when set, is called with every buffer header just before
	// the buffer is written (the header buffer included), and may change
	// any field except BufferSize and SavedOffset.
	OnBuffer func(*BufferInfo)
}

// BufferInfo describes a buffer about to be written, for Options.OnBuffer.
type BufferInfo struct {
	Header BufferHeader
	// Index is the buffer's position in the file (0 = header buffer).
	Index int
	// CPU is the processor whose records the buffer holds.
	CPU int
	// Source is the etw.Event.Buffer of the first event given to
	// WriteEvent for this buffer (0 for the header buffer), or -1 for
	// buffers filled by WriteRecord.
	Source int
	// Events is the number of records; First and Last their smallest and
	// largest timestamps.
	Events      int
	First, Last int64
}

// FlushOrder is a policy for the file order of completed buffers. Buffers
// get their sequence number when their first record arrives and reach the
// file when they are complete (full, flushed or at Close), so with several
// processors the file order differs from the sequence order, as in files
// written by Windows. Readers must sort buffers per processor by sequence
// number to deliver events in time order; the Reversed and Random policies
// make that mandatory.
type FlushOrder struct {
	kind int
	seed uint64
	less func(a, b *BufferInfo) bool
}

const (
	orderCompletion = iota
	orderSequence
	orderInterleaved
	orderReversed
	orderRandom
	orderSorted
)

// Flush orders.
var (
	// Completion writes each buffer as soon as it is complete (the
	// Windows behaviour, and the default).
	Completion = FlushOrder{kind: orderCompletion}
	// InOrder writes buffers in sequence-number order; it holds completed
	// buffers until every earlier one is written.
	InOrder = FlushOrder{kind: orderSequence}
	// Interleaved holds a window of completed buffers and writes them
	// round-robin across processors.
	Interleaved = FlushOrder{kind: orderInterleaved}
	// Reversed holds a window of completed buffers and writes each full
	// window newest first, so buffer timestamps go backwards in the file.
	Reversed = FlushOrder{kind: orderReversed}
)

// Random returns a policy that holds a window of completed buffers and
// writes a pseudo-random one of them each time the window overflows.
func Random(seed uint64) FlushOrder { return FlushOrder{kind: orderRandom, seed: seed} }

// SortedBy returns a policy that holds every buffer until Close and then
// writes them sorted by less (stable). It is meant for re-emitting small
// traces in their original file order; memory grows with the trace.
func SortedBy(less func(a, b *BufferInfo) bool) FlushOrder {
	return FlushOrder{kind: orderSorted, less: less}
}

// Writer writes an ETL file. Records go into per-processor buffers; full
// buffers are written out as the FlushOrder says, and Close writes the rest
// and the header buffer.
//
// When the destination implements io.WriterAt (an *os.File, a *MemFile),
// the header buffer is reserved at offset 0 and written at Close with the
// final BuffersWritten, EndTime and loss counts, so a trace of any size is
// streamed in constant memory. With a plain io.Writer the header buffer is
// written before the first data buffer, with BuffersWritten 0 (unknown:
// readers then walk buffers to the end of the stream) and EndTime 0; header
// records must then be added before the first buffer is complete.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	w    io.Writer
	wa   io.WriterAt
	o    Options
	ptr  int
	bufs []*wbuf // current buffer per processor, nil until used
	pend []*wbuf // completed, not yet written
	free []*wbuf
	// staged is the buffer chosen to be written next; it is written when
	// another one is chosen or at Close (which sets its flush marker).
	staged *wbuf

	off      int64 // file offset of the next buffer
	nextSeq  int64
	writeSeq int64 // InOrder: next sequence number to write
	written  int   // data buffers written
	rr       int   // Interleaved: last processor written
	rng      *rand.Rand

	hdrEvent  []byte   // verbatim logfile header event from WriteEvent
	hdrRecs   [][]byte // further header-buffer records
	hdrFill   int
	hdrDone   bool
	lastTS    int64
	anyTS     bool
	lost      uint32
	lostBufs  uint32
	scratch   []byte
	filler    []byte
	err       error
	closed    bool
	bytesData int64
}

// wbuf is one buffer being filled or waiting to be written.
type wbuf struct {
	data     []byte // BufferSize bytes; records start at BufferHeaderSize
	fill     int
	cpu      int
	seq      int64
	first    int64
	last     int64
	events   int
	source   int
	flushTS  int64
	overflow int
	flags    uint16
}

// NewWriter returns a Writer that writes a trace to w.
func NewWriter(w io.Writer, opts Options) (*Writer, error) {
	o := opts
	if o.PointerSize == 0 {
		o.PointerSize = 8
	}
	if o.PointerSize != 4 && o.PointerSize != 8 {
		return nil, fmt.Errorf("%w: PointerSize %d (want 4 or 8)", ErrBadOptions, o.PointerSize)
	}
	if o.NumberOfProcessors == 0 {
		o.NumberOfProcessors = DefaultProcessors
	}
	if o.NumberOfProcessors < 0 || o.NumberOfProcessors > maxProcessors {
		return nil, fmt.Errorf("%w: NumberOfProcessors %d (want 1..%d)", ErrBadOptions, o.NumberOfProcessors, maxProcessors)
	}
	if o.BufferSize == 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.BufferSize < minBufferSize || o.BufferSize > etw.MaxBufferSize || o.BufferSize%8 != 0 {
		return nil, fmt.Errorf("%w: BufferSize %d (want a multiple of 8 in %d..%d)", ErrBadOptions, o.BufferSize, minBufferSize, etw.MaxBufferSize)
	}
	if o.HeaderBufferSize == 0 {
		o.HeaderBufferSize = o.BufferSize
		if o.Compress {
			o.HeaderBufferSize = 1024
		}
	}
	if o.HeaderBufferSize < 512 || o.HeaderBufferSize > etw.MaxBufferSize || o.HeaderBufferSize%8 != 0 {
		return nil, fmt.Errorf("%w: HeaderBufferSize %d (want a multiple of 8 in 512..%d)", ErrBadOptions, o.HeaderBufferSize, etw.MaxBufferSize)
	}
	if o.Clock == etw.ClockRaw {
		o.Clock = etw.ClockPerfCounter
	}
	if o.PerfFreq == 0 {
		o.PerfFreq = DefaultPerfFreq
	}
	if o.PerfFreq < 0 {
		return nil, fmt.Errorf("%w: PerfFreq %d", ErrBadOptions, o.PerfFreq)
	}
	if o.StartTime.IsZero() {
		o.StartTime = DefaultStartTime
	}
	if o.StartTicks == 0 {
		o.StartTicks = DefaultStartTicks
	}
	if o.BootTime.IsZero() {
		o.BootTime = o.StartTime.Add(-time.Duration(float64(o.StartTicks) / float64(o.PerfFreq) * 1e9))
	}
	if o.LoggerName == "" {
		o.LoggerName = DefaultLoggerName
	}
	if o.OSMajor == 0 && o.OSMinor == 0 {
		o.OSMajor = 10
	}
	if o.OSBuild == 0 {
		o.OSBuild = DefaultOSBuild
	}
	if o.CPUSpeedMHz == 0 {
		o.CPUSpeedMHz = DefaultCPUSpeedMHz
	}
	if o.TimerResolution == 0 {
		o.TimerResolution = 156250
	}
	if o.LoggerID == 0 {
		o.LoggerID = DefaultLoggerID
	}
	if o.FlushWindow <= 0 {
		o.FlushWindow = defaultWindow
	}
	if o.FlushOrder.kind == orderSorted && o.FlushOrder.less == nil {
		return nil, fmt.Errorf("%w: SortedBy needs a less function", ErrBadOptions)
	}
	if o.Compress {
		o.LogFileMode |= etw.ModeCompressed
	}
	wr := &Writer{w: w, o: o, ptr: o.PointerSize, bufs: make([]*wbuf, o.NumberOfProcessors), nextSeq: 1, writeSeq: 1, rr: -1}
	if n := BufferHeaderSize + wr.headerEventSize(); n > o.HeaderBufferSize {
		return nil, fmt.Errorf("%w: the header event needs %d bytes, HeaderBufferSize is %d", ErrBadOptions, n, o.HeaderBufferSize)
	}
	wr.rng = rand.New(rand.NewPCG(o.FlushOrder.seed, 0x9E3779B97F4A7C15))
	if wa, ok := w.(io.WriterAt); ok {
		wr.wa = wa
		// Reserve the header buffer; it is rewritten at Close.
		if err := wr.writeFull(wr.fillerBytes(o.HeaderBufferSize)); err != nil {
			return nil, err
		}
	}
	return wr, nil
}

// PointerSize returns the pointer size of the trace.
func (w *Writer) PointerSize() int { return w.ptr }

// Options returns the writer's options with defaults filled in.
func (w *Writer) Options() Options { return w.o }

// WriteRecord appends one record (as built by System, PerfInfo, Pool, ...)
// to the buffer of processor cpu. ts is the record's timestamp, used for
// the buffer's flush time and the header's EndTime; records of one
// processor must come in non-decreasing time order for readers to
// reproduce the time order. The record is copied.
func (w *Writer) WriteRecord(cpu int, ts int64, record []byte) error {
	return w.write(cpu, ts, record, -1)
}

// Record is one record for WriteRecords and scenario generators.
type Record struct {
	CPU       int
	Timestamp int64
	Data      []byte
	// Lost, when not zero, marks Lost events dropped on CPU instead of a
	// record (Data is nil); WriteRecords passes it to LoseEvents.
	Lost uint32
}

// WriteRecords writes records in order; see WriteRecord.
func (w *Writer) WriteRecords(recs []Record) error {
	for i := range recs {
		if recs[i].Lost > 0 && recs[i].Data == nil {
			if err := w.LoseEvents(recs[i].CPU, recs[i].Lost); err != nil {
				return err
			}
			continue
		}
		if err := w.write(recs[i].CPU, recs[i].Timestamp, recs[i].Data, -1); err != nil {
			return err
		}
	}
	return nil
}

// WriteEvent re-emits an event delivered by an etw reader: its raw record
// goes into the buffer of ev.Processor. Events of the header buffer
// (ev.Buffer 0) go into the header buffer; the first logfile header event
// among them replaces the one the writer would generate, and is written
// verbatim except for BuffersWritten and the COMPRESSED_MODE bit, which are
// set to describe the file written.
func (w *Writer) WriteEvent(ev *etw.Event) error {
	raw := ev.Raw()
	if ev.Buffer == 0 {
		return w.writeHeaderEvent(ev.Hook, ev.Header, raw)
	}
	return w.write(int(ev.Processor), ev.Timestamp, raw, ev.Buffer)
}

func (w *Writer) writeHeaderEvent(hook etw.HookID, ht etw.HeaderType, raw []byte) error {
	if w.hdrEvent == nil && len(w.hdrRecs) == 0 && hook == etw.HookHeader && (ht == etw.HeaderSystem32 || ht == etw.HeaderSystem64) && len(raw) >= lfhBuffersLost(ht.PointerSize())+4 {
		if err := w.checkRecord(raw); err != nil {
			return err
		}
		if w.hdrDone {
			return fmt.Errorf("%w", ErrHeaderFull)
		}
		w.hdrEvent = append([]byte(nil), raw...)
		w.ptr = ht.PointerSize()
		if w.hdrFill+align8(len(raw)) > w.o.HeaderBufferSize-BufferHeaderSize {
			return fmt.Errorf("%w: %d bytes of header records", ErrHeaderFull, w.hdrFill+align8(len(raw)))
		}
		w.hdrFill += align8(len(raw))
		return nil
	}
	return w.WriteHeaderRecord(raw)
}

// WriteHeaderRecord adds a record to the header buffer, after the logfile
// header event (Windows puts e.g. the EventTrace PartitionInfoExtension
// there).
func (w *Writer) WriteHeaderRecord(record []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	if err := w.checkRecord(record); err != nil {
		return err
	}
	if w.hdrDone {
		return fmt.Errorf("%w", ErrHeaderFull)
	}
	need := w.headerEventSize() + w.hdrFill + align8(len(record))
	if w.hdrEvent != nil {
		need -= align8(len(w.hdrEvent))
	}
	if need > w.o.HeaderBufferSize-BufferHeaderSize {
		return fmt.Errorf("%w: %d bytes of header records", ErrHeaderFull, need)
	}
	w.hdrRecs = append(w.hdrRecs, append([]byte(nil), record...))
	w.hdrFill += align8(len(record))
	return nil
}

// headerEventSize is the aligned size of the generated logfile header
// event.
func (w *Writer) headerEventSize() int {
	if w.hdrEvent != nil {
		return align8(len(w.hdrEvent))
	}
	n := align8(32 + logfileHeaderLen(w.ptr) + 2*(len(w.o.LoggerName)+1) + 2*(len(w.o.LogFileName)+1))
	if !w.o.NoPartitionInfo {
		n += partitionInfoSize
	}
	return n
}

// partitionInfoSize is the size of the PartitionInfoExtension record.
const partitionInfoSize = 32 + 48

func logfileHeaderLen(ptr int) int {
	if ptr == 4 {
		return 0x110
	}
	return 0x118
}

// kernelHeaderSize returns the fixed header size of a kernel header type.
func kernelHeaderSize(ht etw.HeaderType) int {
	switch ht {
	case etw.HeaderSystem32, etw.HeaderSystem64:
		return 32
	case etw.HeaderCompact32, etw.HeaderCompact64:
		return 24
	}
	return 16
}

// fixedHeaderSize returns the fixed header size of the other known header
// types, 0 for the rest.
func fixedHeaderSize(ht etw.HeaderType) int {
	switch ht {
	case etw.HeaderFull32, etw.HeaderFull64:
		return 48
	case etw.HeaderInstance32, etw.HeaderInstance64:
		return 72
	case etw.HeaderEvent32, etw.HeaderEvent64:
		return 80
	}
	return 0
}

// checkRecord validates the framing of a record the way a reader frames
// it: the marker, the header's fixed size and the Size field (at offset 4
// for kernel headers, else at offset 0) equal to the record's length.
func (w *Writer) checkRecord(rec []byte) error {
	if len(rec) < 4 {
		return fmt.Errorf("%w: %d bytes", ErrBadRecord, len(rec))
	}
	if len(rec) > MaxRecordSize {
		return fmt.Errorf("%w: %d bytes exceed the maximum event size %d", ErrBadRecord, len(rec), MaxRecordSize)
	}
	if align8(len(rec)) > w.o.BufferSize-BufferHeaderSize {
		return fmt.Errorf("%w: %d bytes do not fit a %d-byte buffer", ErrBadRecord, len(rec), w.o.BufferSize)
	}
	ht := etw.HeaderType(rec[2])
	m := rec[3]
	sizeAt, minSize := 0, 8
	switch {
	case m&0x80 == 0:
		return fmt.Errorf("%w: marker 0x%02x lacks TRACE_HEADER_FLAG", ErrBadRecord, m)
	case m&0x40 == 0:
		if m&0x10 == 0 {
			return fmt.Errorf("%w: marker 0x%02x is neither a trace header nor a message", ErrBadRecord, m)
		}
	case ht.IsKernel():
		sizeAt, minSize = 4, kernelHeaderSize(ht)
	default:
		minSize = max(minSize, fixedHeaderSize(ht))
	}
	if len(rec) < minSize {
		return fmt.Errorf("%w: %d bytes are shorter than the %v header (%d)", ErrBadRecord, len(rec), ht, minSize)
	}
	if n := int(binary.LittleEndian.Uint16(rec[sizeAt:])); n != len(rec) {
		return fmt.Errorf("%w: Size field %d, record has %d bytes", ErrBadRecord, n, len(rec))
	}
	return nil
}

func (w *Writer) write(cpu int, ts int64, rec []byte, source int) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	if cpu < 0 || cpu >= len(w.bufs) {
		return fmt.Errorf("%w: processor %d out of range 0..%d", ErrBadRecord, cpu, len(w.bufs)-1)
	}
	if err := w.checkRecord(rec); err != nil {
		return err
	}
	n := align8(len(rec))
	b := w.bufs[cpu]
	if b != nil && b.events > 0 {
		switch {
		case w.o.SplitBySource && source != b.source:
			// Keep the overflow size when the record would not have fit,
			// as Windows' CurrentOffset does.
			over := 0
			if b.fill+n > len(b.data) {
				over = n
			}
			w.complete(b, ts, over)
			b = nil
		case b.fill+n > len(b.data):
			w.complete(b, ts, n)
			b = nil
		}
	}
	if b == nil {
		b = w.newBuf(cpu)
		w.bufs[cpu] = b
	}
	if b.events == 0 {
		b.seq = w.nextSeq
		w.nextSeq++
		b.first, b.last = ts, ts
		b.source = source
	}
	copy(b.data[b.fill:], rec)
	clear(b.data[b.fill+len(rec) : b.fill+n])
	b.fill += n
	b.events++
	b.first = min(b.first, ts)
	b.last = max(b.last, ts)
	if !w.anyTS || ts > w.lastTS {
		w.lastTS, w.anyTS = ts, true
	}
	if w.err != nil {
		return w.err
	}
	return nil
}

func (w *Writer) newBuf(cpu int) *wbuf {
	var b *wbuf
	if n := len(w.free); n > 0 {
		b = w.free[n-1]
		w.free = w.free[:n-1]
	} else {
		b = &wbuf{data: make([]byte, w.o.BufferSize)}
	}
	b.fill = BufferHeaderSize
	b.cpu = cpu
	b.events = 0
	b.overflow = 0
	b.flags = 0
	b.flushTS = 0
	return b
}

// Flush completes the current buffer of processor cpu, as a flush timer
// would, so the next record of cpu starts a new buffer.
func (w *Writer) Flush(cpu int) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	if cpu < 0 || cpu >= len(w.bufs) {
		return fmt.Errorf("%w: processor %d out of range", ErrBadRecord, cpu)
	}
	if b := w.bufs[cpu]; b != nil && b.events > 0 {
		w.complete(b, b.last, 0)
	}
	return w.err
}

// LoseEvents records that n events of processor cpu were lost: it adds n
// to the header's EventsLost and sets the EVENTS_LOST flag on the
// processor's current buffer.
func (w *Writer) LoseEvents(cpu int, n uint32) error {
	if cpu < 0 || cpu >= len(w.bufs) {
		return fmt.Errorf("%w: processor %d out of range", ErrBadRecord, cpu)
	}
	w.lost += n
	b := w.bufs[cpu]
	if b == nil {
		b = w.newBuf(cpu)
		w.bufs[cpu] = b
	}
	b.flags |= FlagEventsLost
	return nil
}

// LoseBuffers adds n to the header's BuffersLost.
func (w *Writer) LoseBuffers(n uint32) { w.lostBufs += n }

// complete moves b to the pending list; flushTS is its flush time and
// overflow the aligned size of the record that did not fit (0 if none).
func (w *Writer) complete(b *wbuf, flushTS int64, overflow int) {
	w.bufs[b.cpu] = nil
	b.flushTS = max(flushTS, b.last)
	b.overflow = overflow
	w.pend = append(w.pend, b)
	w.drain(false)
}

// drain writes pending buffers as the flush order allows; at Close (all)
// it writes every one of them.
func (w *Writer) drain(all bool) {
	o := w.o.FlushOrder
	for len(w.pend) > 0 && w.err == nil {
		i := -1
		switch o.kind {
		case orderCompletion:
			i = 0
		case orderSequence:
			for j, b := range w.pend {
				if b.seq == w.writeSeq || (all && (i < 0 || b.seq < w.pend[i].seq)) {
					i = j
					if b.seq == w.writeSeq {
						break
					}
				}
			}
		case orderInterleaved:
			if !all && len(w.pend) <= w.o.FlushWindow {
				return
			}
			best := -1
			for j, b := range w.pend {
				d := (b.cpu - w.rr - 1 + 2*maxProcessors) % maxProcessors
				if best < 0 || d < best {
					best, i = d, j
				}
			}
		case orderReversed:
			if !all && len(w.pend) <= w.o.FlushWindow {
				return
			}
			// Write the whole window newest first.
			for j := len(w.pend) - 1; j >= 0; j-- {
				w.emit(w.pend[j])
			}
			w.pend = w.pend[:0]
			continue
		case orderRandom:
			if !all && len(w.pend) <= w.o.FlushWindow {
				return
			}
			i = w.rng.IntN(len(w.pend))
		case orderSorted:
			if !all {
				return
			}
			infos := make([]*wbuf, len(w.pend))
			copy(infos, w.pend)
			slices.SortStableFunc(infos, func(a, b *wbuf) int {
				ia, ib := w.info(a), w.info(b)
				switch {
				case o.less(&ia, &ib):
					return -1
				case o.less(&ib, &ia):
					return 1
				}
				return 0
			})
			for _, b := range infos {
				w.emit(b)
			}
			w.pend = w.pend[:0]
			continue
		}
		if i < 0 {
			return
		}
		b := w.pend[i]
		w.pend = slices.Delete(w.pend, i, i+1)
		w.emit(b)
	}
}

func (w *Writer) info(b *wbuf) BufferInfo {
	return BufferInfo{CPU: b.cpu, Source: b.source, Events: b.events, First: b.first, Last: b.last, Index: -1,
		Header: BufferHeader{TimeStamp: b.flushTS, SequenceNumber: b.seq, ProcessorIndex: uint16(b.cpu)}}
}

// emit stages b as the next buffer in the file and writes the previously
// staged one.
func (w *Writer) emit(b *wbuf) {
	if w.o.FlushOrder.kind == orderSequence {
		w.writeSeq = b.seq + 1
	}
	w.rr = b.cpu
	if w.staged != nil {
		w.writeData(w.staged, false)
	}
	w.staged = b
}

// writeData writes a completed data buffer and recycles it.
func (w *Writer) writeData(b *wbuf, last bool) {
	defer func() { w.free = append(w.free, b) }()
	if w.err != nil {
		return
	}
	if !w.hdrDone && w.wa == nil {
		w.writeHeaderBuffer()
		if w.err != nil {
			return
		}
	}
	h := BufferHeader{
		BufferSize:     uint32(len(b.data)),
		SavedOffset:    uint32(b.fill),
		TimeStamp:      b.flushTS,
		SequenceNumber: b.seq,
		ProcessorIndex: uint16(b.cpu),
		LoggerID:       w.o.LoggerID,
		State:          BufferStateFlush,
		Offset:         uint32(b.fill),
		BufferFlag:     FlagProcIndex | b.flags,
		BufferType:     TypeGeneric,
	}
	if b.overflow > 0 {
		h.CurrentOffset = uint32(b.fill + b.overflow)
	} else {
		h.CurrentOffset = uint32(b.fill + len(b.data))
	}
	if last {
		h.BufferFlag |= FlagFlushMarker
	}
	body := b.data[BufferHeaderSize:b.fill]
	var tail []byte
	if w.o.Compress {
		w.scratch = compressLZ77(w.scratch[:0], body)
		body = w.scratch
		h.BufferSize = uint32(BufferHeaderSize + len(body))
		h.BufferFlag |= FlagCompressed
		h.CurrentOffset = uint32(b.fill + len(b.data))
	} else {
		tail = w.fillerBytes(len(b.data) - b.fill)
	}
	w.written++
	if w.o.OnBuffer != nil {
		info := BufferInfo{Header: h, Index: w.written, CPU: b.cpu, Source: b.source, Events: b.events, First: b.first, Last: b.last}
		w.o.OnBuffer(&info)
		size, saved := h.BufferSize, h.SavedOffset
		h = info.Header
		h.BufferSize, h.SavedOffset = size, saved
	}
	h.put(b.data[:BufferHeaderSize])
	if w.o.Compress {
		if w.err = w.writeFull(b.data[:BufferHeaderSize]); w.err == nil {
			w.err = w.writeFull(body)
		}
	} else {
		if w.err = w.writeFull(b.data[:b.fill]); w.err == nil {
			w.err = w.writeFull(tail)
		}
	}
	w.bytesData += int64(b.fill - BufferHeaderSize)
}

func (w *Writer) fillerBytes(n int) []byte {
	if len(w.filler) < n {
		w.filler = make([]byte, max(n, w.o.BufferSize, w.o.HeaderBufferSize))
		for i := range w.filler {
			w.filler[i] = 0xFF
		}
	}
	return w.filler[:n]
}

func (w *Writer) writeFull(p []byte) error {
	n, err := w.w.Write(p)
	w.off += int64(n)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("etltest: writing at offset %d: %w", w.off, err)
	}
	return nil
}

// logfileHeader returns the TRACE_LOGFILE_HEADER the writer generates.
func (w *Writer) logfileHeader() *etw.LogfileHeader {
	o := &w.o
	h := &etw.LogfileHeader{
		BufferSize:         uint32(o.BufferSize),
		MajorVersion:       o.OSMajor,
		MinorVersion:       o.OSMinor,
		SubVersion:         1,
		SubMinorVersion:    5,
		ProviderVersion:    o.OSBuild,
		NumberOfProcessors: uint32(o.NumberOfProcessors),
		TimerResolution:    o.TimerResolution,
		LogFileMode:        o.LogFileMode,
		StartBuffers:       1,
		PointerSize:        uint32(w.ptr),
		EventsLost:         o.EventsLost + w.lost,
		CPUSpeedMHz:        o.CPUSpeedMHz,
		BootTime:           etw.TimeToFiletime(o.BootTime),
		PerfFreq:           o.PerfFreq,
		StartTime:          etw.TimeToFiletime(o.StartTime),
		ReservedFlags:      uint32(o.Clock),
		BuffersLost:        o.BuffersLost + w.lostBufs,
		LoggerName:         o.LoggerName,
		LogFileName:        o.LogFileName,
	}
	h.TimeZone.StandardName = "Coordinated Universal Time"
	h.TimeZone.DaylightName = "Coordinated Universal Time"
	if o.Compress {
		h.SubVersion, h.SubMinorVersion = 2, 0
	}
	if w.hdrDone || w.wa != nil {
		h.BuffersWritten = uint32(1 + w.written)
	}
	switch {
	case !o.EndTime.IsZero():
		h.EndTime = etw.TimeToFiletime(o.EndTime)
	case w.wa != nil:
		last := o.StartTicks
		if w.anyTS {
			last = max(last, w.lastTS)
		}
		c := etw.NewClock(h, o.StartTicks)
		h.EndTime = c.Filetime(last)
	}
	return h
}

// headerMode returns the log file mode of the header event written.
func (w *Writer) headerMode() uint32 {
	if w.hdrEvent != nil {
		return binary.LittleEndian.Uint32(w.hdrEvent[lfhLogFileMode:])
	}
	return w.o.LogFileMode
}

// writeHeaderBuffer builds the header buffer and writes it: at offset 0
// through WriterAt at Close, or in sequence before the first data buffer.
func (w *Writer) writeHeaderBuffer() {
	size := w.o.HeaderBufferSize
	buf := make([]byte, BufferHeaderSize, size)
	var ev []byte
	if w.hdrEvent != nil {
		ev = append([]byte(nil), w.hdrEvent...)
		le := binary.LittleEndian
		if w.wa != nil {
			le.PutUint32(ev[lfhBuffersWritten:], uint32(1+w.written))
		}
		mode := le.Uint32(ev[lfhLogFileMode:]) &^ etw.ModeCompressed
		if w.o.Compress {
			mode |= etw.ModeCompressed
		}
		le.PutUint32(ev[lfhLogFileMode:], mode)
	} else {
		m := Meta{TID: w.o.HeaderTID, PID: w.o.HeaderPID, Timestamp: w.o.StartTicks, KernelTime: 1}
		ev = LogfileHeader(w.ptr, m, w.logfileHeader())
		ev = append(ev, make([]byte, align8(len(ev))-len(ev))...)
		if !w.o.NoPartitionInfo {
			m.Kind = HeaderSystem
			ev = append(ev, kernelRecord(w.ptr, m, HeaderSystem, 2, etw.HookID(EventTracePartitionInfo), make([]byte, 48))...)
		}
	}
	buf = append(buf, ev...)
	buf = append(buf, make([]byte, align8(len(ev))-len(ev))...)
	for _, r := range w.hdrRecs {
		buf = append(buf, r...)
		buf = append(buf, make([]byte, align8(len(r))-len(r))...)
	}
	if len(buf) > size {
		w.err = fmt.Errorf("%w: %d bytes of header records in a %d-byte header buffer", ErrHeaderFull, len(buf)-BufferHeaderSize, size)
		return
	}
	fill := len(buf)
	h := BufferHeader{
		BufferSize:    uint32(size),
		SavedOffset:   uint32(fill),
		CurrentOffset: uint32(fill),
		LoggerID:      w.o.LoggerID,
		State:         BufferStateFlush,
		Offset:        uint32(fill),
		BufferFlag:    FlagProcIndex | FlagFlushMarker,
		BufferType:    TypeHeader,
	}
	if w.o.Compress {
		h.BufferFlag = FlagFlushMarker
	}
	if w.headerMode()&etw.ModeRelog != 0 {
		// Relogged files: the header buffer has CurrentOffset 0 and State
		// 0, except that State names the compression format (3) in
		// compressed files.
		h.CurrentOffset = 0
		if !w.o.Compress {
			h.State = 0
		}
	}
	if w.o.OnBuffer != nil {
		info := BufferInfo{Header: h, Index: 0, Source: 0, Events: 1 + len(w.hdrRecs), First: w.o.StartTicks, Last: w.o.StartTicks}
		w.o.OnBuffer(&info)
		h = info.Header
		h.BufferSize, h.SavedOffset = uint32(size), uint32(fill)
		if info.Header.SavedOffset == 0 {
			// Windows 7 header buffers keep SavedOffset 0.
			h.SavedOffset = 0
		}
	}
	h.put(buf[:BufferHeaderSize])
	buf = append(buf, w.fillerBytes(size-fill)...)
	w.hdrDone = true
	if w.wa != nil {
		if _, err := w.wa.WriteAt(buf, 0); err != nil {
			w.err = fmt.Errorf("etltest: writing the header buffer: %w", err)
		}
		return
	}
	w.err = w.writeFull(buf)
}

// Close completes every buffer, writes the remaining ones (the last with
// the flush marker) and the header buffer. It does not close the
// destination.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	end := w.lastTS
	for _, b := range w.bufs {
		if b != nil && b.events > 0 {
			w.bufs[b.cpu] = nil
			b.flushTS = max(end, b.last)
			w.pend = append(w.pend, b)
		}
	}
	w.drain(true)
	if w.staged != nil {
		w.writeData(w.staged, true)
		w.staged = nil
	}
	if w.err != nil {
		return w.err
	}
	if !w.hdrDone {
		w.writeHeaderBuffer()
	} else if w.wa == nil && w.written == 0 {
		return nil
	}
	return w.err
}

// BytesWritten returns the number of bytes written to the destination so
// far (the reserved header buffer included).
func (w *Writer) BytesWritten() int64 { return w.off }

// BuffersWritten returns the number of buffers written so far, the header
// buffer included once it is written.
func (w *Writer) BuffersWritten() int {
	if w.hdrDone || w.wa != nil {
		return 1 + w.written
	}
	return w.written
}

// EventBytes returns the number of record bytes (with alignment padding)
// stored in data buffers written so far.
func (w *Writer) EventBytes() int64 { return w.bytesData }
