package etw

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"time"
)

// PID is a Windows process id.
type PID uint32

// TID is a Windows thread id.
type TID uint32

// NoPID and NoTID mark records whose header carries no process or thread id
// (PERFINFO headers); consumers such as TraceEvent report them as -1.
const (
	NoPID PID = 0xFFFFFFFF
	NoTID TID = 0xFFFFFFFF
)

// Event is one record of a trace. The zero Event is invalid (Header 0).
//
// Events returned by [Reader.ReadEvent] are owned by the reader: the Event
// and the byte slices it holds (Payload, the extended data and the raw
// record) alias the reader's buffer and stay valid only until the next call
// to ReadEvent. Use [Event.Clone] to keep one.
type Event struct {
	// Header is the trace-header type of the record.
	Header HeaderType
	// Marker is the marker byte (offset 3) of the record, normally 0xC0.
	Marker uint8
	// Flags holds the EVENT_HEADER_FLAG_* bits of EVENT_HEADER records and
	// the OptionFlags (TRACE_MESSAGE_*) of MESSAGE records; 0 otherwise.
	Flags uint16
	// EventProperty holds EVENT_HEADER_PROPERTY_* bits (EVENT_HEADER only).
	EventProperty uint16

	// Hook is group<<8|type for SYSTEM, COMPACT and PERFINFO records and 0
	// otherwise.
	Hook HookID
	// Provider is the provider GUID (EVENT_HEADER), the event-class GUID
	// (FULL_HEADER, INSTANCE) or, for kernel records, the class GUID of the
	// hook's group (zero for unknown groups). Image Load, logged as hook
	// 0x030A in the process group, reports [ImageGUID].
	Provider GUID
	// ID is the manifest event id (EVENT_HEADER only).
	ID uint16
	// Opcode is the event type: the hook type for kernel records,
	// Class.Type for classic records and the descriptor opcode otherwise.
	Opcode uint8
	// Version is the event version: the header version of kernel records
	// (PEBS/PMC flag bits removed), Class.Version or the descriptor version.
	Version uint16
	// Level, Channel, Task and Keywords come from the EVENT_HEADER
	// descriptor; Level also from Class.Level of classic records.
	Level    uint8
	Channel  uint8
	Task     uint16
	Keywords uint64

	// PID and TID identify the logging process and thread, or NoPID/NoTID
	// when the header has none.
	PID PID
	TID TID
	// Processor is the processor index of the buffer the record came from.
	Processor uint16
	// Timestamp is the raw timestamp in the trace clock's ticks; see
	// [Event.Time] for wall time.
	Timestamp int64
	// KernelTime and UserTime are the CPU times of SYSTEM, FULL, INSTANCE
	// and EVENT_HEADER records (unit: the trace's TimerResolution).
	KernelTime uint32
	UserTime   uint32
	// ActivityID is the EVENT_HEADER activity id.
	ActivityID GUID
	// InstanceID, ParentInstanceID and ParentGUID are set for INSTANCE
	// records.
	InstanceID       uint32
	ParentInstanceID uint32
	ParentGUID       GUID
	// PEBSIndex is the PEBS index of a PERFINFO record whose version word
	// has TRACE_HEADER_PEBS_INDEX_FLAG, else 0.
	PEBSIndex uint64

	// Payload is the event's user data: the bytes after the header and any
	// extension items.
	Payload []byte

	// Buffer is the index of the buffer in the file (0 = header buffer), and
	// Offset the file offset of the record or, for a record of a compressed
	// buffer, its offset from the start of the decompressed buffer (see
	// [Event.Position]). Events of live sessions have -1 in both.
	Buffer int
	Offset int64

	pmc    []byte // PMC counter values, 8 bytes each
	ext    []byte // EVENT_HEADER extended data items, as stored
	raw    []byte // the whole record, Size bytes
	payOff int    // offsets of Payload, ext and pmc inside raw
	extOff int
	pmcOff int
	clock  *Clock
	inComp bool
	// lean: only the fields lean framing sets are this record's (see
	// frameLean and internal/leanframe).
	lean bool
}

// PointerSize returns the size of pointers in the payload: 4 for 32-bit
// header types (also for WOW64 events inside a 64-bit trace) and 8 for 64-bit
// ones, or 0 when the header type has no pointer size.
func (e *Event) PointerSize() int { return e.Header.PointerSize() }

// Group returns the kernel group of a kernel record (the high byte of Hook).
func (e *Event) Group() Group { return e.Hook.Group() }

// IsKernel reports whether the record is a classic kernel record with a hook
// id (SYSTEM, COMPACT or PERFINFO header).
func (e *Event) IsKernel() bool { return e.Header.IsKernel() }

// Raw returns the whole record as stored, header included, without the
// alignment padding. It aliases the reader's buffer.
func (e *Event) Raw() []byte { return e.raw }

// PMC returns the PMC counter values of a PERFINFO record.
func (e *Event) PMC() []uint64 {
	if len(e.pmc) == 0 {
		return nil
	}
	v := make([]uint64, len(e.pmc)/8)
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(e.pmc[8*i:])
	}
	return v
}

// NumPMC returns the number of PMC counter values of a PERFINFO record.
func (e *Event) NumPMC() int { return len(e.pmc) / 8 }

// Time converts the record's raw timestamp to wall time using the trace's
// clock. It returns the zero time when the event has no clock.
func (e *Event) Time() time.Time {
	if e.clock == nil {
		return time.Time{}
	}
	return e.clock.Time(e.Timestamp)
}

// Clock returns the clock that converts this event's timestamps, or nil.
func (e *Event) Clock() *Clock { return e.clock }

// Position reports where the record is in the file: the buffer index, and
// the byte offset of the record. For a record inside a compressed buffer the
// offset is counted from the start of the buffer as decompressed (its
// 72-byte header included) and compressed is true.
func (e *Event) Position() (buffer int, offset int64, compressed bool) {
	return e.Buffer, e.Offset, e.inComp
}

// Clone returns a deep copy of e that does not alias the reader's memory.
func (e *Event) Clone() *Event {
	c := new(Event)
	e.CloneInto(c)
	return c
}

// CloneInto copies e into dst, reusing dst's memory where it can, so that
// dst no longer aliases the reader's buffer.
func (e *Event) CloneInto(dst *Event) {
	buf := dst.raw[:0]
	if cap(buf) > 0 && cap(buf) < len(e.raw) {
		// A dst reused for a larger record grows to a power of 2, so
		// that one reused for records of varied sizes is soon large
		// enough for all of them (a first copy, Clone's, is exact).
		buf = make([]byte, 0, max(cloneMin, 1<<bits.Len(uint(len(e.raw)-1))))
	}
	buf = append(buf, e.raw...)
	*dst = *e
	dst.raw = buf
	dst.Payload = e.sub(buf, e.Payload, e.payOff)
	dst.ext = e.sub(buf, e.ext, e.extOff)
	dst.pmc = e.sub(buf, e.pmc, e.pmcOff)
}

// cloneMin is the least buffer CloneInto grows a dst's to.
const cloneMin = 256

// sub returns the part of the copied record buf that holds s, which was
// framed at offset off of the original record, or a fresh copy of s when it
// no longer lies there.
func (e *Event) sub(buf, s []byte, off int) []byte {
	if s == nil {
		return nil
	}
	if off >= 0 && off+len(s) <= len(buf) {
		return buf[off : off+len(s) : off+len(s)]
	}
	return append([]byte(nil), s...)
}

// ExtType is an EVENT_HEADER extended data item type
// (EVENT_HEADER_EXT_TYPE_*).
type ExtType uint16

// Extended data item types.
const (
	ExtRelatedActivityID ExtType = 0x01
	ExtSID               ExtType = 0x02
	ExtTSID              ExtType = 0x03
	ExtInstanceInfo      ExtType = 0x04
	ExtStackTrace32      ExtType = 0x05
	ExtStackTrace64      ExtType = 0x06
	ExtPEBSIndex         ExtType = 0x07
	ExtPMCCounters       ExtType = 0x08
	ExtPSMKey            ExtType = 0x09
	ExtEventKey          ExtType = 0x0A
	ExtEventSchemaTL     ExtType = 0x0B
	ExtProvTraits        ExtType = 0x0C
	ExtProcessStartKey   ExtType = 0x0D
	ExtControlGUID       ExtType = 0x0E
	ExtQPCDelta          ExtType = 0x0F
	ExtContainerID       ExtType = 0x10
	ExtStackKey32        ExtType = 0x11
	ExtStackKey64        ExtType = 0x12
)

// ExtItem is one EVENT_HEADER extended data item. Data aliases the event.
type ExtItem struct {
	Type ExtType
	Data []byte
}

// ExtendedData returns the event's extended data items in stored order.
// Items were bounds-checked when the record was framed.
func (e *Event) ExtendedData() iter.Seq[ExtItem] {
	return func(yield func(ExtItem) bool) {
		b := e.ext
		for len(b) >= 8 {
			n := int(binary.LittleEndian.Uint16(b))
			typ := ExtType(binary.LittleEndian.Uint16(b[2:]))
			link := binary.LittleEndian.Uint16(b[4:])
			size := int(binary.LittleEndian.Uint16(b[6:]))
			if n < 8 || n > len(b) || size > n-8 {
				return
			}
			if !yield(ExtItem{Type: typ, Data: b[8 : 8+size : 8+size]}) {
				return
			}
			if link&1 == 0 {
				return
			}
			b = b[n:]
		}
	}
}

// ExtItem returns the data of the first extended data item of type t.
func (e *Event) ExtItem(t ExtType) ([]byte, bool) {
	for it := range e.ExtendedData() {
		if it.Type == t {
			return it.Data, true
		}
	}
	return nil, false
}
