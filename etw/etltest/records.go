package etltest

import (
	"encoding/binary"
	"unicode/utf16"

	"github.com/etwkit/etwkit/etw"
)

// Marker flags of the byte at offset 3 of a record.
const (
	markerTrace   = 0xC0 // TRACE_HEADER_FLAG | TRACE_HEADER_EVENT_TRACE
	markerMessage = 0x90 // TRACE_HEADER_FLAG | TRACE_MESSAGE
)

// MaxRecordSize is the largest record a buffer can hold (MAX_ETW_EVENT_SIZE).
// Builders that are given more payload than fits produce a record whose
// Size field no longer matches its length; [Writer.WriteRecord] rejects it.
const MaxRecordSize = 0xFFFF

// KernelHeader holds the fields of a SYSTEM_TRACE_HEADER or its compact
// form (header types 1-4).
type KernelHeader struct {
	Version    uint16     // event version (MOF EventVersion)
	Hook       etw.HookID // group<<8 | type
	TID        etw.TID
	PID        etw.PID
	Timestamp  int64  // raw trace clock ticks
	KernelTime uint32 // SYSTEM form only
	UserTime   uint32 // SYSTEM form only
}

// System returns a record with a SYSTEM_TRACE_HEADER (header type 1 for
// pointer size 4, 2 for 8) followed by the payload parts.
func System(ptr int, h KernelHeader, payload ...[]byte) []byte {
	typ := etw.HeaderSystem64
	if ptr == 4 {
		typ = etw.HeaderSystem32
	}
	b := make([]byte, 32, 32+partsLen(payload))
	kernelPrefix(b, h.Version, typ, h.Hook, len(b)+partsLen(payload))
	le := binary.LittleEndian
	le.PutUint32(b[8:], uint32(h.TID))
	le.PutUint32(b[12:], uint32(h.PID))
	le.PutUint64(b[16:], uint64(h.Timestamp))
	le.PutUint32(b[24:], h.KernelTime)
	le.PutUint32(b[28:], h.UserTime)
	return appendParts(b, payload)
}

// Compact returns a record with the 24-byte compact system header (header
// type 3 or 4): the SYSTEM header without the CPU times.
func Compact(ptr int, h KernelHeader, payload ...[]byte) []byte {
	typ := etw.HeaderCompact64
	if ptr == 4 {
		typ = etw.HeaderCompact32
	}
	b := make([]byte, 24, 24+partsLen(payload))
	kernelPrefix(b, h.Version, typ, h.Hook, len(b)+partsLen(payload))
	le := binary.LittleEndian
	le.PutUint32(b[8:], uint32(h.TID))
	le.PutUint32(b[12:], uint32(h.PID))
	le.PutUint64(b[16:], uint64(h.Timestamp))
	return appendParts(b, payload)
}

// PerfInfoHeader holds the fields of a PERFINFO_TRACE_HEADER (header types
// 16 and 17), which carries no thread or process id.
type PerfInfoHeader struct {
	Version   uint16 // event version, without the PEBS/PMC flag bits
	Hook      etw.HookID
	Timestamp int64
	// PEBS adds a PEBS index item (TRACE_HEADER_PEBS_INDEX_FLAG).
	PEBS      bool
	PEBSIndex uint64
	// PMC adds up to 7 PMC counter values after the PEBS index.
	PMC []uint64
}

// PerfInfo returns a record with a PERFINFO_TRACE_HEADER followed by the
// optional PEBS index and PMC counters (in that order) and the payload.
// More than 7 PMC values are cut to 7, the most the version word can count.
func PerfInfo(ptr int, h PerfInfoHeader, payload ...[]byte) []byte {
	typ := etw.HeaderPerfInfo64
	if ptr == 4 {
		typ = etw.HeaderPerfInfo32
	}
	pmc := h.PMC
	if len(pmc) > 7 {
		pmc = pmc[:7]
	}
	n := 16 + 8*len(pmc)
	if h.PEBS {
		n += 8
	}
	v := h.Version &^ 0x8700
	if h.PEBS {
		v |= 0x8000
	}
	v |= uint16(len(pmc)) << 8
	b := make([]byte, 16, n+partsLen(payload))
	kernelPrefix(b, v, typ, h.Hook, n+partsLen(payload))
	binary.LittleEndian.PutUint64(b[8:], uint64(h.Timestamp))
	if h.PEBS {
		b = binary.LittleEndian.AppendUint64(b, h.PEBSIndex)
	}
	for _, c := range pmc {
		b = binary.LittleEndian.AppendUint64(b, c)
	}
	return appendParts(b, payload)
}

func kernelPrefix(b []byte, version uint16, typ etw.HeaderType, hook etw.HookID, size int) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], version)
	b[2] = byte(typ)
	b[3] = markerTrace
	le.PutUint16(b[4:], uint16(size))
	le.PutUint16(b[6:], uint16(hook))
}

// ClassicHeader holds the fields of an EVENT_TRACE_HEADER (FULL_HEADER,
// header types 10 and 20), used by classic MOF providers and by
// KernelTraceControl image-id events.
type ClassicHeader struct {
	Type       uint8  // Class.Type, the opcode
	Level      uint8  // Class.Level
	Version    uint16 // Class.Version
	TID        etw.TID
	PID        etw.PID
	Timestamp  int64
	GUID       etw.GUID // event class GUID
	KernelTime uint32
	UserTime   uint32
}

// FullHeader returns a record with a 48-byte EVENT_TRACE_HEADER.
func FullHeader(ptr int, h ClassicHeader, payload ...[]byte) []byte {
	typ := etw.HeaderFull64
	if ptr == 4 {
		typ = etw.HeaderFull32
	}
	b := make([]byte, 48, 48+partsLen(payload))
	classicPrefix(b, typ, &h, len(b)+partsLen(payload))
	return appendParts(b, payload)
}

// InstanceHeader holds the fields of an EVENT_INSTANCE_GUID_HEADER
// (header types 11 and 21).
type InstanceHeader struct {
	ClassicHeader
	InstanceID       uint32
	ParentInstanceID uint32
	ParentGUID       etw.GUID
}

// Instance returns a record with a 72-byte EVENT_INSTANCE_GUID_HEADER.
func Instance(ptr int, h InstanceHeader, payload ...[]byte) []byte {
	typ := etw.HeaderInstance64
	if ptr == 4 {
		typ = etw.HeaderInstance32
	}
	b := make([]byte, 72, 72+partsLen(payload))
	classicPrefix(b, typ, &h.ClassicHeader, len(b)+partsLen(payload))
	le := binary.LittleEndian
	le.PutUint32(b[48:], h.InstanceID)
	le.PutUint32(b[52:], h.ParentInstanceID)
	g := h.ParentGUID.Bytes()
	copy(b[56:], g[:])
	return appendParts(b, payload)
}

func classicPrefix(b []byte, typ etw.HeaderType, h *ClassicHeader, size int) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(size))
	b[2] = byte(typ)
	b[3] = markerTrace
	b[4] = h.Type
	b[5] = h.Level
	le.PutUint16(b[6:], h.Version)
	le.PutUint32(b[8:], uint32(h.TID))
	le.PutUint32(b[12:], uint32(h.PID))
	le.PutUint64(b[16:], uint64(h.Timestamp))
	g := h.GUID.Bytes()
	copy(b[24:], g[:])
	le.PutUint32(b[40:], h.KernelTime)
	le.PutUint32(b[44:], h.UserTime)
}

// ProviderHeader holds the fields of an EVENT_HEADER record (header types 18
// and 19), written by manifest and TraceLogging providers.
type ProviderHeader struct {
	Flags         uint16 // EVENT_HEADER_FLAG_*; 0x1 is set when Ext is not empty
	EventProperty uint16
	TID           etw.TID
	PID           etw.PID
	Timestamp     int64
	Provider      etw.GUID
	ID            uint16
	Version       uint8
	Channel       uint8
	Level         uint8
	Opcode        uint8
	Task          uint16
	Keywords      uint64
	KernelTime    uint32
	UserTime      uint32
	ActivityID    etw.GUID
	// Ext are the extended data items, written in order, each padded to 8
	// bytes, the last one with Linkage 0.
	Ext []etw.ExtItem
}

// EventHeader returns a record with an 80-byte EVENT_HEADER, its extended
// data items and the payload.
func EventHeader(ptr int, h ProviderHeader, payload ...[]byte) []byte {
	typ := etw.HeaderEvent64
	if ptr == 4 {
		typ = etw.HeaderEvent32
	}
	extLen := 0
	for _, it := range h.Ext {
		extLen += 8 + align8(len(it.Data))
	}
	size := 80 + extLen + partsLen(payload)
	b := make([]byte, 80, size)
	le := binary.LittleEndian
	flags := h.Flags &^ 0x0001
	if len(h.Ext) > 0 {
		flags |= 0x0001
	}
	le.PutUint16(b[0:], uint16(size))
	b[2] = byte(typ)
	b[3] = markerTrace
	le.PutUint16(b[4:], flags)
	le.PutUint16(b[6:], h.EventProperty)
	le.PutUint32(b[8:], uint32(h.TID))
	le.PutUint32(b[12:], uint32(h.PID))
	le.PutUint64(b[16:], uint64(h.Timestamp))
	p := h.Provider.Bytes()
	copy(b[24:], p[:])
	le.PutUint16(b[40:], h.ID)
	b[42] = h.Version
	b[43] = h.Channel
	b[44] = h.Level
	b[45] = h.Opcode
	le.PutUint16(b[46:], h.Task)
	le.PutUint64(b[48:], h.Keywords)
	le.PutUint32(b[56:], h.KernelTime)
	le.PutUint32(b[60:], h.UserTime)
	a := h.ActivityID.Bytes()
	copy(b[64:], a[:])
	for i, it := range h.Ext {
		n := 8 + align8(len(it.Data))
		link := uint16(0)
		if i < len(h.Ext)-1 {
			link = 1
		}
		b = le.AppendUint16(b, uint16(n))
		b = le.AppendUint16(b, uint16(it.Type))
		b = le.AppendUint16(b, link)
		b = le.AppendUint16(b, uint16(len(it.Data)))
		b = append(b, it.Data...)
		b = append(b, make([]byte, n-8-len(it.Data))...)
	}
	return appendParts(b, payload)
}

// StackTrace64 returns the data of an EVENT_HEADER_EXT_TYPE_STACK_TRACE64
// item: the match id followed by 64-bit frames.
func StackTrace64(matchID uint64, frames ...uint64) etw.ExtItem {
	b := binary.LittleEndian.AppendUint64(nil, matchID)
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint64(b, f)
	}
	return etw.ExtItem{Type: etw.ExtStackTrace64, Data: b}
}

// StackTrace32 returns the data of an EVENT_HEADER_EXT_TYPE_STACK_TRACE32
// item: the match id followed by 32-bit frames.
func StackTrace32(matchID uint64, frames ...uint32) etw.ExtItem {
	b := binary.LittleEndian.AppendUint64(nil, matchID)
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint32(b, f)
	}
	return etw.ExtItem{Type: etw.ExtStackTrace32, Data: b}
}

// Message option flags (TRACE_MESSAGE_*), the optional fields of a
// message record, written in this order.
const (
	MessageSequence      uint16 = 0x0001 // u32 sequence number
	MessageGUID          uint16 = 0x0002 // 16-byte message GUID
	MessageComponentID   uint16 = 0x0004 // u32 component id (instead of the GUID)
	MessageTimestamp     uint16 = 0x0008 // i64 timestamp
	MessagePerfTimestamp uint16 = 0x0010 // i64 performance-counter timestamp
	MessageSystemInfo    uint16 = 0x0020 // u32 thread id, u32 process id
	MessagePointer32     uint16 = 0x0040
	MessagePointer64     uint16 = 0x0080
)

// MessageHeader holds the fields of a MESSAGE_TRACE_HEADER record (WPP and
// TraceMessage, header type 15) and the optional fields its OptionFlags
// select. The optional-field layout follows etw's reader (sequence, GUID
// or component id, timestamp, thread and process id); it is unverified
// against Windows.
type MessageHeader struct {
	MessageNumber uint16
	OptionFlags   uint16
	Sequence      uint32
	GUID          etw.GUID
	ComponentID   uint32
	Timestamp     int64
	TID           etw.TID
	PID           etw.PID
}

// Message returns a message record: u16 Size, a zero byte, the marker 0x90
// (TRACE_HEADER_FLAG | TRACE_MESSAGE), u16 MessageNumber, u16 OptionFlags,
// the optional fields, then the payload.
func Message(h MessageHeader, payload ...[]byte) []byte {
	p := newPayload(8, 48+partsLen(payload))
	p.u16(0)
	p.u8(0)
	p.u8(markerMessage)
	p.u16(h.MessageNumber)
	p.u16(h.OptionFlags)
	f := h.OptionFlags
	if f&MessageSequence != 0 {
		p.u32(h.Sequence)
	}
	if f&MessageGUID != 0 {
		p.guid(h.GUID)
	} else if f&MessageComponentID != 0 {
		p.u32(h.ComponentID)
	}
	if f&(MessageTimestamp|MessagePerfTimestamp) != 0 {
		p.u64(uint64(h.Timestamp))
	}
	if f&MessageSystemInfo != 0 {
		p.u32(uint32(h.TID))
		p.u32(uint32(h.PID))
	}
	b := appendParts(p.b, payload)
	binary.LittleEndian.PutUint16(b, uint16(len(b)))
	return b
}

// Opaque returns a record of a header type without a known layout (TIMED,
// ERROR, WNODE): u16 Size, the type, the marker 0xC0, then the payload.
// Readers frame such records by their size only.
func Opaque(typ etw.HeaderType, payload ...[]byte) []byte {
	b := make([]byte, 4, 4+partsLen(payload))
	binary.LittleEndian.PutUint16(b, uint16(4+partsLen(payload)))
	b[2] = byte(typ)
	b[3] = markerTrace
	return appendParts(b, payload)
}

func partsLen(p [][]byte) int {
	n := 0
	for _, x := range p {
		n += len(x)
	}
	return n
}

func appendParts(b []byte, p [][]byte) []byte {
	for _, x := range p {
		b = append(b, x...)
	}
	return b
}

func align8(n int) int { return (n + 7) &^ 7 }

// payload is a little-endian builder for event payloads with a pointer
// size.
type payload struct {
	b   []byte
	ptr int
}

func newPayload(ptr, capacity int) *payload {
	return &payload{b: make([]byte, 0, capacity), ptr: ptr}
}

func (p *payload) u8(v uint8)   { p.b = append(p.b, v) }
func (p *payload) u16(v uint16) { p.b = binary.LittleEndian.AppendUint16(p.b, v) }
func (p *payload) u32(v uint32) { p.b = binary.LittleEndian.AppendUint32(p.b, v) }
func (p *payload) u64(v uint64) { p.b = binary.LittleEndian.AppendUint64(p.b, v) }
func (p *payload) guid(g etw.GUID) {
	x := g.Bytes()
	p.b = append(p.b, x[:]...)
}

// ptrv appends a pointer-sized value (truncated to 32 bits for pointer
// size 4).
func (p *payload) ptrv(v uint64) {
	if p.ptr == 4 {
		p.u32(uint32(v))
		return
	}
	p.u64(v)
}

// utf16z appends s as NUL-terminated UTF-16LE.
func (p *payload) utf16z(s string) {
	p.b = appendUTF16(p.b, s, true)
}

// ansiz appends s as NUL-terminated 8-bit text.
func (p *payload) ansiz(s string) {
	p.b = append(p.b, s...)
	p.b = append(p.b, 0)
}

// fixedUTF16 appends s as a NUL-padded UTF-16LE array of n characters.
func (p *payload) fixedUTF16(s string, n int) {
	u := utf16.Encode([]rune(s))
	if len(u) > n-1 {
		u = u[:n-1]
	}
	for i := 0; i < n; i++ {
		var c uint16
		if i < len(u) {
			c = u[i]
		}
		p.u16(c)
	}
}

func appendUTF16(b []byte, s string, nul bool) []byte {
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	if nul {
		b = append(b, 0, 0)
	}
	return b
}
