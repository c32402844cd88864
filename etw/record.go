package etw

import (
	"encoding/binary"
	"fmt"
)

// This file turns the EVENT_RECORD that a real-time consumer (ProcessTrace)
// hands to its callback into the same Event values the ETL reader yields,
// and lays out a valid on-disk record for Event.Raw. It has no OS
// dependency: the live package copies the fields of the Windows structure
// into a RecordHeader, and tests build them from bytes.

// recordConsumerFlags are EVENT_HEADER_FLAG_* bits that a real-time
// consumer sets on the records it delivers and that are never stored in a
// file.
const recordConsumerFlags = EventHeaderFlag32BitHeader | EventHeaderFlag64BitHeader | EventHeaderFlagClassicHeader | EventHeaderFlagProcessorIndex

// Record layout sizes and limits.
const (
	// RecordHeaderSize is the size of the EVENT_HEADER at the start of an
	// EVENT_RECORD (and of an EVENT_HEADER record in a file).
	RecordHeaderSize = 80
	// MaxRecordSize is the largest record an ETL buffer can hold: Size is
	// a 16-bit field (MAX_ETW_EVENT_SIZE).
	MaxRecordSize = 0xFFFF
	// MaxRecordExtItems caps the extended data items accepted per record.
	MaxRecordExtItems = 64
)

// RecordDescriptor is EVENT_DESCRIPTOR, the event identity inside an
// EVENT_HEADER.
type RecordDescriptor struct {
	ID      uint16
	Version uint8
	Channel uint8
	Level   uint8
	Opcode  uint8
	Task    uint16
	Keyword uint64
}

// RecordHeader is the EVENT_HEADER of an EVENT_RECORD as a real-time
// consumer sees it, independent of the operating system. For classic
// (MOF/kernel) events the consumer sets [EventHeaderFlagClassicHeader] and one of
// the 32/64-bit header flags, puts the event-class GUID in ProviderID and
// the event type and version in the descriptor.
type RecordHeader struct {
	Size          uint16
	HeaderType    uint16
	Flags         uint16
	EventProperty uint16
	ThreadID      uint32
	ProcessID     uint32
	TimeStamp     int64
	ProviderID    GUID
	Descriptor    RecordDescriptor
	KernelTime    uint32
	UserTime      uint32
	ActivityID    GUID
}

// BufferContext is ETW_BUFFER_CONTEXT: the processor that logged the record
// and the id of the logger session.
type BufferContext struct {
	// ProcessorIndex is the processor index when the header has
	// [EventHeaderFlagProcessorIndex], else the low byte is the processor
	// number.
	ProcessorIndex uint16
	LoggerID       uint16
}

// UnmarshalBinary decodes the 80-byte EVENT_HEADER layout (the first bytes
// of an EVENT_RECORD) from b.
func (h *RecordHeader) UnmarshalBinary(b []byte) error {
	if len(b) < RecordHeaderSize {
		return fmt.Errorf("etw: EVENT_HEADER needs %d bytes, have %d: %w", RecordHeaderSize, len(b), ErrTruncated)
	}
	le := binary.LittleEndian
	*h = RecordHeader{
		Size:          le.Uint16(b[0:]),
		HeaderType:    le.Uint16(b[2:]),
		Flags:         le.Uint16(b[4:]),
		EventProperty: le.Uint16(b[6:]),
		ThreadID:      le.Uint32(b[8:]),
		ProcessID:     le.Uint32(b[12:]),
		TimeStamp:     int64(le.Uint64(b[16:])),
		ProviderID:    GUIDFromBytes(b[24:40]),
		Descriptor: RecordDescriptor{
			ID:      le.Uint16(b[40:]),
			Version: b[42],
			Channel: b[43],
			Level:   b[44],
			Opcode:  b[45],
			Task:    le.Uint16(b[46:]),
			Keyword: le.Uint64(b[48:]),
		},
		KernelTime: le.Uint32(b[56:]),
		UserTime:   le.Uint32(b[60:]),
		ActivityID: GUIDFromBytes(b[64:80]),
	}
	return nil
}

// AppendBinary appends the 80-byte EVENT_HEADER layout of h to b.
func (h *RecordHeader) AppendBinary(b []byte) ([]byte, error) {
	le := binary.LittleEndian
	b = le.AppendUint16(b, h.Size)
	b = le.AppendUint16(b, h.HeaderType)
	b = le.AppendUint16(b, h.Flags)
	b = le.AppendUint16(b, h.EventProperty)
	b = le.AppendUint32(b, h.ThreadID)
	b = le.AppendUint32(b, h.ProcessID)
	b = le.AppendUint64(b, uint64(h.TimeStamp))
	g := h.ProviderID.Bytes()
	b = append(b, g[:]...)
	b = le.AppendUint16(b, h.Descriptor.ID)
	b = append(b, h.Descriptor.Version, h.Descriptor.Channel, h.Descriptor.Level, h.Descriptor.Opcode)
	b = le.AppendUint16(b, h.Descriptor.Task)
	b = le.AppendUint64(b, h.Descriptor.Keyword)
	b = le.AppendUint32(b, h.KernelTime)
	b = le.AppendUint32(b, h.UserTime)
	g = h.ActivityID.Bytes()
	return append(b, g[:]...), nil
}

// RecordDecoder turns real-time EVENT_RECORDs into Events. It owns the
// memory the decoded Events point into: an Event filled by Decode (its
// Payload, extended data and Raw record) stays valid until the next call
// to Decode on the same RecordDecoder. Use [Event.Clone] to keep one. In
// steady state Decode does not allocate.
//
// A RecordDecoder is not safe for concurrent use; use one per goroutine
// (or per buffered event slot).
type RecordDecoder struct {
	// Clock is attached to every decoded Event (see [Event.Time]).
	Clock *Clock
	// PointerSize (4 or 8) is used for records whose flags name neither a
	// 32- nor a 64-bit header. Zero means 8.
	PointerSize int

	buf []byte
}

// Decode fills e from one EVENT_RECORD: its header h, buffer context ctx,
// extended data items ext (in the record's order) and user data. The
// inputs are copied; they may be reused once Decode returns.
//
// The result matches what the ETL reader yields for the same record:
//
//   - Classic kernel events (flag [EventHeaderFlagClassicHeader] with a kernel
//     class GUID, see [GroupOf]) become SYSTEM32/64 records, or PERFINFO32/64
//     records when the header carries no thread and process id (both
//     0xFFFFFFFF) and always for StackWalk events, whose pid and tid are in
//     the payload (PID and TID are then [NoPID] and [NoTID]). Hook is
//     group<<8|opcode; Image Load (class Image, opcode 10) is hook 0x030A
//     with Provider [ImageGUID], as the file stores it. PMC and PEBS
//     extended items become the PERFINFO extensions; other extended items
//     of kernel events have no place in the on-disk form and are dropped.
//   - Other classic events become FULL_HEADER32/64 records (EVENT_TRACE_HEADER).
//   - All other events become EVENT_HEADER32/64 records whose extended data
//     items are stored inline in their on-disk chain form. The
//     consumer-only flags (32/64-bit header, classic header, processor
//     index) are removed from Flags and EXTENDED_INFO is set exactly when
//     items are present.
//
// Raw returns the built on-disk record (Size bytes, no alignment padding).
// Buffer and Offset are set to -1: the record comes from no file. Decode
// fails, leaving e unchanged, when the record would exceed
// [MaxRecordSize] bytes or has more than [MaxRecordExtItems] items.
func (d *RecordDecoder) Decode(e *Event, h *RecordHeader, ctx BufferContext, ext []ExtItem, userData []byte) error {
	ptr := d.PointerSize
	switch {
	case h.Flags&EventHeaderFlag32BitHeader != 0:
		ptr = 4
	case h.Flags&EventHeaderFlag64BitHeader != 0:
		ptr = 8
	case ptr != 4:
		ptr = 8
	}
	proc := ctx.ProcessorIndex
	if h.Flags&EventHeaderFlagProcessorIndex == 0 {
		proc &= 0xFF
	}
	if len(ext) > MaxRecordExtItems {
		return fmt.Errorf("etw: record of %v opcode %d has %d extended data items (limit %d): %w",
			h.ProviderID, h.Descriptor.Opcode, len(ext), MaxRecordExtItems, ErrCorrupt)
	}
	if h.Flags&EventHeaderFlagClassicHeader != 0 {
		if g, ok := GroupOf(h.ProviderID); ok {
			return d.kernel(e, h, g, ptr, proc, ext, userData)
		}
		return d.full(e, h, ptr, proc, userData)
	}
	return d.eventHeader(e, h, ptr, proc, ext, userData)
}

// grow returns d.buf resized to n bytes, reusing its memory.
func (d *RecordDecoder) grow(n int) []byte {
	if cap(d.buf) < n {
		c := 2 * cap(d.buf)
		if c < n {
			c = n
		}
		if c < 256 {
			c = 256
		}
		d.buf = make([]byte, c)
	}
	b := d.buf[:n]
	return b
}

func tooLarge(h *RecordHeader, n int) error {
	return fmt.Errorf("etw: record of %v opcode %d would be %d bytes (limit %d): %w",
		h.ProviderID, h.Descriptor.Opcode, n, MaxRecordSize, ErrCorrupt)
}

func (d *RecordDecoder) kernel(e *Event, h *RecordHeader, g Group, ptr int, proc uint16, ext []ExtItem, userData []byte) error {
	hook := HookID(g)<<8 | HookID(h.Descriptor.Opcode)
	provider := g.GUID()
	if hook == HookID(GroupImage)<<8|10 {
		hook = HookImageLoad // logged in the process group
	}
	if hook == HookImageLoad {
		provider = ImageGUID
	}
	perf := g == GroupStackWalk || (h.ThreadID == 0xFFFFFFFF && h.ProcessID == 0xFFFFFFFF)

	var pebs []byte
	var pmc []byte
	if perf {
		for _, it := range ext {
			switch it.Type {
			case ExtPEBSIndex:
				if len(it.Data) >= 8 && pebs == nil {
					pebs = it.Data[:8]
				}
			case ExtPMCCounters:
				if pmc == nil {
					pmc = it.Data[:len(it.Data)&^7]
					if len(pmc) > 7*8 {
						pmc = pmc[:7*8]
					}
				}
			}
		}
	}

	hdr := 32
	var typ HeaderType = HeaderSystem64
	if perf {
		hdr = 16 + len(pebs) + len(pmc)
		typ = HeaderPerfInfo64
		if ptr == 4 {
			typ = HeaderPerfInfo32
		}
	} else if ptr == 4 {
		typ = HeaderSystem32
	}
	n := hdr + len(userData)
	if n > MaxRecordSize {
		return tooLarge(h, n)
	}
	raw := d.grow(n)
	le := binary.LittleEndian
	version := uint16(h.Descriptor.Version)
	if perf {
		version &^= 0x8700
		if pebs != nil {
			version |= 0x8000
		}
		version |= uint16(len(pmc)/8) << 8
	}
	le.PutUint16(raw[0:], version)
	raw[2] = byte(typ)
	raw[3] = 0xC0
	le.PutUint16(raw[4:], uint16(n))
	le.PutUint16(raw[6:], uint16(hook))
	pid, tid := PID(h.ProcessID), TID(h.ThreadID)
	var kt, ut uint32
	if perf {
		le.PutUint64(raw[8:], uint64(h.TimeStamp))
		off := 16
		off += copy(raw[off:], pebs)
		copy(raw[off:], pmc)
		pid, tid = NoPID, NoTID
	} else {
		le.PutUint32(raw[8:], h.ThreadID)
		le.PutUint32(raw[12:], h.ProcessID)
		le.PutUint64(raw[16:], uint64(h.TimeStamp))
		kt, ut = h.KernelTime, h.UserTime
		le.PutUint32(raw[24:], kt)
		le.PutUint32(raw[28:], ut)
	}
	copy(raw[hdr:], userData)

	*e = Event{
		Header:     typ,
		Marker:     0xC0,
		Hook:       hook,
		Provider:   provider,
		Opcode:     h.Descriptor.Opcode,
		Version:    uint16(h.Descriptor.Version),
		PID:        pid,
		TID:        tid,
		Processor:  proc,
		Timestamp:  h.TimeStamp,
		KernelTime: kt,
		UserTime:   ut,
		Payload:    raw[hdr:n:n],
		Buffer:     -1,
		Offset:     -1,
		raw:        raw,
		payOff:     hdr,
		extOff:     -1,
		pmcOff:     -1,
		clock:      d.Clock,
	}
	if perf {
		e.Version &^= 0x8700
		if pebs != nil {
			e.PEBSIndex = le.Uint64(raw[16:])
		}
		if len(pmc) > 0 {
			off := 16 + len(pebs)
			e.pmc = raw[off : off+len(pmc) : off+len(pmc)]
			e.pmcOff = off
		}
	}
	return nil
}

func (d *RecordDecoder) full(e *Event, h *RecordHeader, ptr int, proc uint16, userData []byte) error {
	const hdr = 48
	n := hdr + len(userData)
	if n > MaxRecordSize {
		return tooLarge(h, n)
	}
	typ := HeaderFull64
	if ptr == 4 {
		typ = HeaderFull32
	}
	raw := d.grow(n)
	le := binary.LittleEndian
	le.PutUint16(raw[0:], uint16(n))
	raw[2] = byte(typ)
	raw[3] = 0xC0
	raw[4] = h.Descriptor.Opcode
	raw[5] = h.Descriptor.Level
	le.PutUint16(raw[6:], uint16(h.Descriptor.Version))
	le.PutUint32(raw[8:], h.ThreadID)
	le.PutUint32(raw[12:], h.ProcessID)
	le.PutUint64(raw[16:], uint64(h.TimeStamp))
	g := h.ProviderID.Bytes()
	copy(raw[24:40], g[:])
	le.PutUint32(raw[40:], h.KernelTime)
	le.PutUint32(raw[44:], h.UserTime)
	copy(raw[hdr:], userData)
	*e = Event{
		Header:     typ,
		Marker:     0xC0,
		Provider:   h.ProviderID,
		Opcode:     h.Descriptor.Opcode,
		Version:    uint16(h.Descriptor.Version),
		Level:      h.Descriptor.Level,
		PID:        PID(h.ProcessID),
		TID:        TID(h.ThreadID),
		Processor:  proc,
		Timestamp:  h.TimeStamp,
		KernelTime: h.KernelTime,
		UserTime:   h.UserTime,
		Payload:    raw[hdr:n:n],
		Buffer:     -1,
		Offset:     -1,
		raw:        raw,
		payOff:     hdr,
		extOff:     -1,
		pmcOff:     -1,
		clock:      d.Clock,
	}
	return nil
}

// extItemLen is the on-disk length of an extended data item holding size
// bytes: an 8-byte item header and the data padded to 8 bytes.
func extItemLen(size int) int { return 8 + (size+7)&^7 }

func (d *RecordDecoder) eventHeader(e *Event, h *RecordHeader, ptr int, proc uint16, ext []ExtItem, userData []byte) error {
	extLen := 0
	for _, it := range ext {
		if len(it.Data) > MaxRecordSize {
			return tooLarge(h, RecordHeaderSize+len(it.Data))
		}
		extLen += extItemLen(len(it.Data))
	}
	n := RecordHeaderSize + extLen + len(userData)
	if n > MaxRecordSize {
		return tooLarge(h, n)
	}
	typ := HeaderEvent64
	if ptr == 4 {
		typ = HeaderEvent32
	}
	flags := h.Flags &^ (recordConsumerFlags | EventHeaderFlagExtendedInfo)
	if len(ext) > 0 {
		flags |= EventHeaderFlagExtendedInfo
	}
	raw := d.grow(n)
	stored := *h
	stored.Size = uint16(n)
	stored.HeaderType = uint16(typ) | 0xC0<<8
	stored.Flags = flags
	_, _ = stored.AppendBinary(raw[:0])

	le := binary.LittleEndian
	off := RecordHeaderSize
	for i, it := range ext {
		l := extItemLen(len(it.Data))
		le.PutUint16(raw[off:], uint16(l))
		le.PutUint16(raw[off+2:], uint16(it.Type))
		var link uint16
		if i < len(ext)-1 {
			link = 1
		}
		le.PutUint16(raw[off+4:], link)
		le.PutUint16(raw[off+6:], uint16(len(it.Data)))
		c := copy(raw[off+8:], it.Data)
		clear(raw[off+8+c : off+l])
		off += l
	}
	copy(raw[off:], userData)

	*e = Event{
		Header:        typ,
		Marker:        0xC0,
		Flags:         flags,
		EventProperty: h.EventProperty,
		Provider:      h.ProviderID,
		ID:            h.Descriptor.ID,
		Opcode:        h.Descriptor.Opcode,
		Version:       uint16(h.Descriptor.Version),
		Level:         h.Descriptor.Level,
		Channel:       h.Descriptor.Channel,
		Task:          h.Descriptor.Task,
		Keywords:      h.Descriptor.Keyword,
		PID:           PID(h.ProcessID),
		TID:           TID(h.ThreadID),
		Processor:     proc,
		Timestamp:     h.TimeStamp,
		KernelTime:    h.KernelTime,
		UserTime:      h.UserTime,
		ActivityID:    h.ActivityID,
		Payload:       raw[off:n:n],
		Buffer:        -1,
		Offset:        -1,
		raw:           raw,
		payOff:        off,
		extOff:        -1,
		pmcOff:        -1,
		clock:         d.Clock,
	}
	if extLen > 0 {
		e.ext = raw[RecordHeaderSize : RecordHeaderSize+extLen : RecordHeaderSize+extLen]
		e.extOff = RecordHeaderSize
	}
	return nil
}
