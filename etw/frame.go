package etw

import (
	"encoding/binary"
	"fmt"
)

// Marker bits of the byte at offset 3 of a record.
const (
	markerTraceHeader = 0x80 // TRACE_HEADER_FLAG
	markerEventTrace  = 0x40 // TRACE_HEADER_EVENT_TRACE
	markerMessage     = 0x10 // TRACE_MESSAGE
)

// PERFINFO version word bits.
const (
	perfInfoPEBSFlag = 0x8000
	perfInfoPMCMask  = 0x0700
)

// Message (WPP) option flags, TRACE_MESSAGE_*.
const (
	MessageSequence             = 0x0001
	MessageGUID                 = 0x0002
	MessageComponentID          = 0x0004
	MessageTimestamp            = 0x0008
	MessagePerformanceTimestamp = 0x0010
	MessageSystemInfo           = 0x0020
	MessagePointer32            = 0x0040
	MessagePointer64            = 0x0080
)

// frameError describes why a record could not be framed; the reader turns it
// into a FormatError with the buffer and offset.
type frameError struct {
	msg string
	err error
}

var (
	errRecordTooSmall = &frameError{"record smaller than its header", ErrCorrupt}
	errRecordTooLarge = &frameError{"record runs past the end of the buffer data", ErrCorrupt}
	errNotAHeader     = &frameError{"bytes do not start a trace record", ErrCorrupt}
	errExtData        = &frameError{"extended data items run past the record", ErrCorrupt}
)

// frameRecord frames the record at data[p:end] into ev and returns the
// record's size (without alignment padding). It fills every header-derived
// field of ev and the payload slices; buffer-derived fields (Processor,
// Buffer, Offset, clock) are set by the caller.
func frameRecord(ev *Event, data []byte, p, end int) (int, *frameError) {
	if end-p < 4 {
		return 0, errRecordTooLarge
	}
	b := data[p:end]
	marker := b[3]
	htype := HeaderType(b[2])
	if marker&markerTraceHeader == 0 {
		return 0, errNotAHeader
	}
	if marker&markerEventTrace == 0 {
		if marker&markerMessage != 0 {
			return frameMessage(ev, b)
		}
		return 0, errNotAHeader
	}
	// Cleared in place, then set field by field: a composite literal is
	// built on the stack and copied, which stalls on store forwarding and
	// was the largest single cost of framing.
	*ev = Event{}
	ev.Header, ev.Marker, ev.PID, ev.TID = htype, marker, NoPID, NoTID
	ev.payOff, ev.extOff, ev.pmcOff = -1, -1, -1
	switch htype {
	case HeaderSystem32, HeaderSystem64, HeaderCompact32, HeaderCompact64:
		hs := htype.fixedSize()
		if len(b) < 8 {
			return 0, errRecordTooLarge
		}
		size := int(binary.LittleEndian.Uint16(b[4:]))
		if size < hs {
			return 0, errRecordTooSmall
		}
		if size > len(b) {
			return 0, errRecordTooLarge
		}
		ev.Version = binary.LittleEndian.Uint16(b)
		ev.Hook = HookID(binary.LittleEndian.Uint16(b[6:]))
		ev.TID = TID(binary.LittleEndian.Uint32(b[8:]))
		ev.PID = PID(binary.LittleEndian.Uint32(b[12:]))
		ev.Timestamp = int64(binary.LittleEndian.Uint64(b[16:]))
		if hs == 32 {
			ev.KernelTime = binary.LittleEndian.Uint32(b[24:])
			ev.UserTime = binary.LittleEndian.Uint32(b[28:])
		}
		setKernelClass(ev)
		ev.raw = b[:size:size]
		ev.setPayload(hs, size)
		return size, nil
	case HeaderPerfInfo32, HeaderPerfInfo64:
		if len(b) < 16 {
			return 0, errRecordTooLarge
		}
		size := int(binary.LittleEndian.Uint16(b[4:]))
		if size < 16 {
			return 0, errRecordTooSmall
		}
		if size > len(b) {
			return 0, errRecordTooLarge
		}
		v := binary.LittleEndian.Uint16(b)
		ev.Version = v &^ (perfInfoPEBSFlag | perfInfoPMCMask)
		ev.Hook = HookID(binary.LittleEndian.Uint16(b[6:]))
		ev.Timestamp = int64(binary.LittleEndian.Uint64(b[8:]))
		hs := 16
		if v&perfInfoPEBSFlag != 0 {
			if size < hs+8 {
				return 0, errRecordTooSmall
			}
			ev.PEBSIndex = binary.LittleEndian.Uint64(b[hs:])
			hs += 8
		}
		if n := int(v&perfInfoPMCMask) >> 8; n > 0 {
			if size < hs+8*n {
				return 0, errRecordTooSmall
			}
			ev.pmc = b[hs : hs+8*n : hs+8*n]
			ev.pmcOff = hs
			hs += 8 * n
		}
		setKernelClass(ev)
		ev.raw = b[:size:size]
		ev.setPayload(hs, size)
		return size, nil
	case HeaderFull32, HeaderFull64, HeaderInstance32, HeaderInstance64:
		hs := htype.fixedSize()
		size := int(binary.LittleEndian.Uint16(b))
		if size < hs {
			return 0, errRecordTooSmall
		}
		if size > len(b) {
			return 0, errRecordTooLarge
		}
		ev.Opcode = b[4]
		ev.Level = b[5]
		ev.Version = binary.LittleEndian.Uint16(b[6:])
		ev.TID = TID(binary.LittleEndian.Uint32(b[8:]))
		ev.PID = PID(binary.LittleEndian.Uint32(b[12:]))
		ev.Timestamp = int64(binary.LittleEndian.Uint64(b[16:]))
		ev.Provider = GUIDFromBytes(b[24:])
		ev.KernelTime = binary.LittleEndian.Uint32(b[40:])
		ev.UserTime = binary.LittleEndian.Uint32(b[44:])
		if hs == 72 {
			ev.InstanceID = binary.LittleEndian.Uint32(b[48:])
			ev.ParentInstanceID = binary.LittleEndian.Uint32(b[52:])
			ev.ParentGUID = GUIDFromBytes(b[56:])
		}
		ev.raw = b[:size:size]
		ev.setPayload(hs, size)
		return size, nil
	case HeaderEvent32, HeaderEvent64:
		size := int(binary.LittleEndian.Uint16(b))
		if size < 80 {
			return 0, errRecordTooSmall
		}
		if size > len(b) {
			return 0, errRecordTooLarge
		}
		ev.Flags = binary.LittleEndian.Uint16(b[4:])
		ev.EventProperty = binary.LittleEndian.Uint16(b[6:])
		ev.TID = TID(binary.LittleEndian.Uint32(b[8:]))
		ev.PID = PID(binary.LittleEndian.Uint32(b[12:]))
		ev.Timestamp = int64(binary.LittleEndian.Uint64(b[16:]))
		ev.Provider = GUIDFromBytes(b[24:])
		ev.ID = binary.LittleEndian.Uint16(b[40:])
		ev.Version = uint16(b[42])
		ev.Channel = b[43]
		ev.Level = b[44]
		ev.Opcode = b[45]
		ev.Task = binary.LittleEndian.Uint16(b[46:])
		ev.Keywords = binary.LittleEndian.Uint64(b[48:])
		ev.KernelTime = binary.LittleEndian.Uint32(b[56:])
		ev.UserTime = binary.LittleEndian.Uint32(b[60:])
		ev.ActivityID = GUIDFromBytes(b[64:])
		hs := 80
		if ev.Flags&EventHeaderFlagExtendedInfo != 0 {
			q := 80
			for {
				if q+8 > size {
					return 0, errExtData
				}
				n := int(binary.LittleEndian.Uint16(b[q:]))
				ds := int(binary.LittleEndian.Uint16(b[q+6:]))
				if n < 8 || ds > n-8 || q+n > size {
					return 0, errExtData
				}
				link := binary.LittleEndian.Uint16(b[q+4:])
				q += n
				if link&1 == 0 {
					break
				}
			}
			ev.ext = b[80:q:q]
			ev.extOff = 80
			hs = q
		}
		ev.raw = b[:size:size]
		ev.setPayload(hs, size)
		return size, nil
	case HeaderTimed, HeaderError, HeaderWnode:
		return frameOpaque(ev, b)
	}
	// Unknown header type: frame it by a leading size when that is
	// plausible, so it is delivered raw rather than dropped.
	return frameOpaque(ev, b)
}

// frameOpaque frames a record whose layout is not known beyond a u16 Size at
// offset 0 (TIMED, ERROR, WNODE and unknown header types). The payload is
// everything after the 4-byte common prefix.
func frameOpaque(ev *Event, b []byte) (int, *frameError) {
	size := int(binary.LittleEndian.Uint16(b))
	if size < 8 {
		return 0, errRecordTooSmall
	}
	if size > len(b) {
		return 0, errRecordTooLarge
	}
	ev.raw = b[:size:size]
	ev.setPayload(4, size)
	return size, nil
}

// frameMessage frames a MESSAGE_TRACE_HEADER (WPP / TraceMessage) record:
// u16 Size, u8 reserved, u8 marker, u16 MessageNumber, u16 OptionFlags,
// then the optional fields the flags select, in the documented order
// sequence, GUID or component id, timestamp, system information (thread and
// process id). When the optional fields do not fit, the payload starts
// after the 8-byte header.
func frameMessage(ev *Event, b []byte) (int, *frameError) {
	if len(b) < 8 {
		return 0, errRecordTooLarge
	}
	size := int(binary.LittleEndian.Uint16(b))
	if size < 8 {
		return 0, errRecordTooSmall
	}
	if size > len(b) {
		return 0, errRecordTooLarge
	}
	*ev = Event{Header: HeaderMessage, Marker: b[3], PID: NoPID, TID: NoTID, payOff: -1, extOff: -1, pmcOff: -1}
	ev.ID = binary.LittleEndian.Uint16(b[4:])
	flags := binary.LittleEndian.Uint16(b[6:])
	ev.Flags = flags
	hs := 8
	if flags&MessageSequence != 0 {
		hs += 4
	}
	if flags&MessageGUID != 0 {
		if hs+16 <= size {
			ev.Provider = GUIDFromBytes(b[hs:])
		}
		hs += 16
	} else if flags&MessageComponentID != 0 {
		hs += 4
	}
	if flags&(MessageTimestamp|MessagePerformanceTimestamp) != 0 {
		if hs+8 <= size {
			ev.Timestamp = int64(binary.LittleEndian.Uint64(b[hs:]))
		}
		hs += 8
	}
	if flags&MessageSystemInfo != 0 {
		if hs+8 <= size {
			ev.TID = TID(binary.LittleEndian.Uint32(b[hs:]))
			ev.PID = PID(binary.LittleEndian.Uint32(b[hs+4:]))
		}
		hs += 8
	}
	if hs > size {
		hs = 8
	}
	ev.raw = b[:size:size]
	ev.setPayload(hs, size)
	return size, nil
}

// EVENT_HEADER_FLAG_* bits of [Event.Flags] for EVENT_HEADER records.
const (
	EventHeaderFlagExtendedInfo   = 0x0001
	EventHeaderFlagPrivateSession = 0x0002
	EventHeaderFlagStringOnly     = 0x0004
	EventHeaderFlagTraceMessage   = 0x0008
	EventHeaderFlagNoCPUTime      = 0x0010
	EventHeaderFlag32BitHeader    = 0x0020
	EventHeaderFlag64BitHeader    = 0x0040
	EventHeaderFlagDecodeGUID     = 0x0080
	EventHeaderFlagClassicHeader  = 0x0100
	EventHeaderFlagProcessorIndex = 0x0200
)

func (ev *Event) setPayload(from, size int) {
	ev.Payload = ev.raw[from:size:size]
	ev.payOff = from
}

// setKernelClass fills Provider and Opcode of a kernel record from its hook
// id. Image Load is logged with the process group's hook 0x030A but belongs
// to the Image class.
func setKernelClass(ev *Event) {
	ev.Opcode = ev.Hook.Type()
	g := ev.Hook.Group()
	if ev.Hook == HookImageLoad {
		g = GroupImage
	}
	if int(g) < len(groups) {
		ev.Provider = groups[g].guid
	}
}

func (e *frameError) at(buf int, fileOff, recOff int64) *FormatError {
	return &FormatError{Buffer: buf, Offset: fileOff, RecordOffset: recOff, Msg: e.msg, Err: e.err}
}

func (e *frameError) String() string { return fmt.Sprintf("%s (%v)", e.msg, e.err) }
