package etltest

import (
	"encoding/binary"

	"github.com/etwkit/etwkit/etw"
)

// HeaderKind selects the trace-header form of a kernel record built by the
// typed builders.
type HeaderKind uint8

// Header kinds. HeaderDefault picks the form Windows was observed to use
// for the event (see each builder).
const (
	HeaderDefault  HeaderKind = iota
	HeaderSystem              // SYSTEM_TRACE_HEADER, 32 bytes, with TID/PID
	HeaderCompact             // compact system header, 24 bytes, with TID/PID
	HeaderPerfInfo            // PERFINFO_TRACE_HEADER, 16 bytes, no TID/PID
)

// Meta holds the header fields shared by the typed kernel builders.
type Meta struct {
	// Kind is the header form; HeaderDefault uses the builder's default.
	Kind      HeaderKind
	TID       etw.TID
	PID       etw.PID
	Timestamp int64
	// KernelTime and UserTime go into SYSTEM headers.
	KernelTime uint32
	UserTime   uint32
}

// kernelRecord builds a record of the form m.Kind (or def when it is
// HeaderDefault).
func kernelRecord(ptr int, m Meta, def HeaderKind, version uint16, hook etw.HookID, parts ...[]byte) []byte {
	k := m.Kind
	if k == HeaderDefault {
		k = def
	}
	h := KernelHeader{Version: version, Hook: hook, TID: m.TID, PID: m.PID, Timestamp: m.Timestamp, KernelTime: m.KernelTime, UserTime: m.UserTime}
	switch k {
	case HeaderCompact:
		return Compact(ptr, h, parts...)
	case HeaderPerfInfo:
		return PerfInfo(ptr, PerfInfoHeader{Version: version, Hook: hook, Timestamp: m.Timestamp}, parts...)
	default:
		return System(ptr, h, parts...)
	}
}

// kernelRecordN returns a record of the form m.Kind (or def) with room for
// an n-byte payload, and a payload builder that appends into it: one
// allocation per record.
func kernelRecordN(ptr int, m Meta, def HeaderKind, version uint16, hook etw.HookID, n int) payload {
	k := m.Kind
	if k == HeaderDefault {
		k = def
	}
	var hs int
	var typ etw.HeaderType
	switch k {
	case HeaderCompact:
		hs, typ = 24, etw.HeaderCompact64
		if ptr == 4 {
			typ = etw.HeaderCompact32
		}
	case HeaderPerfInfo:
		hs, typ = 16, etw.HeaderPerfInfo64
		if ptr == 4 {
			typ = etw.HeaderPerfInfo32
		}
	default:
		hs, typ = 32, etw.HeaderSystem64
		if ptr == 4 {
			typ = etw.HeaderSystem32
		}
	}
	b := make([]byte, hs, hs+n)
	kernelPrefix(b, version&^0x8700, typ, hook, hs+n)
	le := binary.LittleEndian
	if hs == 16 {
		le.PutUint64(b[8:], uint64(m.Timestamp))
	} else {
		le.PutUint32(b[8:], uint32(m.TID))
		le.PutUint32(b[12:], uint32(m.PID))
		le.PutUint64(b[16:], uint64(m.Timestamp))
		if hs == 32 {
			le.PutUint32(b[24:], m.KernelTime)
			le.PutUint32(b[28:], m.UserTime)
		}
	}
	return payload{b: b, ptr: ptr}
}

// PoolTrace opcodes (group 0x0E).
const (
	PoolAlloc        uint8 = 0x20 // PoolAllocation
	PoolAllocSession uint8 = 0x21 // SessionPoolAllocation
	PoolFree         uint8 = 0x22 // PoolFree
	PoolFreeSession  uint8 = 0x23 // SessionPoolFree
)

// BigPoolMask is ETW_POOLTRACE_BIGPOOL_MASK, presumably OR-ed into the pool
// type of big-pool allocations (unverified).
const BigPoolMask = 0x10000000

// Tag returns the pool tag of a 4-character string in the u32 form stored
// in pool events (first character in the least-significant byte). Shorter
// strings are padded with spaces.
func Tag(s string) uint32 {
	var b [4]byte
	for i := range b {
		b[i] = ' '
		if i < len(s) {
			b[i] = s[i]
		}
	}
	return binary.LittleEndian.Uint32(b[:])
}

// PoolEvent is a PoolTrace allocation or free (opcodes 0x20-0x23, version
// 2).
type PoolEvent struct {
	Meta
	Opcode    uint8  // PoolAlloc, PoolAllocSession, PoolFree or PoolFreeSession
	PoolType  uint32 // POOL_TYPE, possibly with BigPoolMask
	Tag       uint32 // see Tag
	Size      uint64 // NumberOfBytes
	Entry     uint64 // block address
	SessionID uint32 // session opcodes only
}

// Pool returns a PoolTrace record. The default header is SYSTEM: no real
// trace with pool events was available to confirm the header Windows uses
// (SYSTEM and PERFINFO are both plausible); SYSTEM keeps the TID/PID that
// the stack-walk correlation needs.
func Pool(ptr int, e PoolEvent) []byte {
	session := e.Opcode == PoolAllocSession || e.Opcode == PoolFreeSession
	n := 8 + 2*ptr
	if session {
		n += 4
	}
	p := kernelRecordN(ptr, e.Meta, HeaderSystem, 2, etw.HookID(uint16(etw.GroupPool)<<8|uint16(e.Opcode)), n)
	p.u32(e.PoolType)
	p.u32(e.Tag)
	p.ptrv(e.Size)
	p.ptrv(e.Entry)
	if session {
		p.u32(e.SessionID)
	}
	return p.b
}

// StackWalk opcodes (group 0x18).
const (
	StackWalkStack     uint8 = 0x20 // Stack: frames of one event
	StackKeyDelete     uint8 = 0x23 // KeyDelete: definition of an evicted key
	StackKeyRundown    uint8 = 0x24 // KeyRundown: definition at trace end
	StackKeyKernelRef  uint8 = 0x25 // StackKeyKernel: reference to a kernel key
	StackKeyUserRef    uint8 = 0x26 // StackKeyUser: reference to a user key
	stackWalkVersion         = 2
	maxStackFramesHint       = 192
)

// Stack is a StackWalk Stack event: the frames of the event whose raw
// timestamp is EventTimeStamp on thread TID, innermost frame first.
type Stack struct {
	// Timestamp is the stack record's own header time (at or after
	// EventTimeStamp).
	Timestamp      int64
	EventTimeStamp int64
	PID            etw.PID
	TID            etw.TID
	Frames         []uint64
	// Kind is the header form; the default is PERFINFO, as observed.
	Kind HeaderKind
}

// StackWalk returns a StackWalk Stack record (hook 0x1820, version 2).
// Frames are truncated to the pointer size.
func StackWalk(ptr int, s Stack) []byte {
	m := Meta{Kind: s.Kind, TID: s.TID, PID: s.PID, Timestamp: s.Timestamp}
	p := kernelRecordN(ptr, m, HeaderPerfInfo, stackWalkVersion, etw.HookStackWalk, 16+ptr*len(s.Frames))
	p.u64(uint64(s.EventTimeStamp))
	p.u32(uint32(s.PID))
	p.u32(uint32(s.TID))
	for _, f := range s.Frames {
		p.ptrv(f)
	}
	return p.b
}

// StackKey is a StackKeyKernel or StackKeyUser event: a reference to a
// cached stack whose frames a later KeyDelete or KeyRundown record defines.
type StackKey struct {
	Timestamp      int64
	EventTimeStamp int64
	PID            etw.PID
	TID            etw.TID
	Key            uint64
	User           bool // StackKeyUser (0x1826) instead of StackKeyKernel (0x1825)
	Kind           HeaderKind
}

// StackKeyRef returns a StackKeyKernel/StackKeyUser record (version 2).
func StackKeyRef(ptr int, k StackKey) []byte {
	hook := etw.HookStackKeyKernel
	if k.User {
		hook = etw.HookStackKeyUser
	}
	m := Meta{Kind: k.Kind, TID: k.TID, PID: k.PID, Timestamp: k.Timestamp}
	p := kernelRecordN(ptr, m, HeaderPerfInfo, stackWalkVersion, hook, 16+ptr)
	p.u64(uint64(k.EventTimeStamp))
	p.u32(uint32(k.PID))
	p.u32(uint32(k.TID))
	p.ptrv(k.Key)
	return p.b
}

// StackKeyDef is a KeyDelete or KeyRundown event defining the frames of a
// stack key, innermost first.
type StackKeyDef struct {
	Timestamp int64
	Opcode    uint8 // StackKeyDelete or StackKeyRundown
	Key       uint64
	Frames    []uint64
	Kind      HeaderKind
}

// StackKeyDefinition returns a KeyDelete/KeyRundown record (version 2).
func StackKeyDefinition(ptr int, d StackKeyDef) []byte {
	p := newPayload(ptr, ptr*(1+len(d.Frames)))
	p.ptrv(d.Key)
	for _, f := range d.Frames {
		p.ptrv(f)
	}
	op := d.Opcode
	if op == 0 {
		op = StackKeyRundown
	}
	m := Meta{Kind: d.Kind, TID: etw.NoTID, PID: etw.NoPID, Timestamp: d.Timestamp}
	return kernelRecord(ptr, m, HeaderPerfInfo, stackWalkVersion, etw.HookID(uint16(etw.GroupStackWalk)<<8|uint16(op)), p.b)
}

// Image opcodes. ImageLoad is logged with hook 0x030A in the process group;
// the others use the image group 0x14.
const (
	ImageLoad    uint8 = 10
	ImageUnload  uint8 = 2
	ImageDCStart uint8 = 3
	ImageDCEnd   uint8 = 4
)

// ImageEvent is an Image Load/UnLoad/DCStart/DCEnd event
// (WMI_IMAGELOAD_INFORMATION, version 2 or 3).
type ImageEvent struct {
	Meta
	Opcode         uint8  // ImageLoad, ImageUnload, ImageDCStart or ImageDCEnd
	Version        uint16 // 0 means 3
	Base           uint64
	Size           uint64
	ProcessID      uint32 // 0 for kernel modules
	Checksum       uint32
	TimeDateStamp  uint32
	SignatureLevel uint8
	SignatureType  uint8
	DefaultBase    uint64
	FileName       string // kernel path, e.g. \SystemRoot\system32\ntoskrnl.exe
}

// Image returns an Image record. The default header is SYSTEM for Load and
// UnLoad and PERFINFO for DCStart and DCEnd, as observed in Windows 10
// kernel traces.
func Image(ptr int, e ImageEvent) []byte {
	v := e.Version
	if v == 0 {
		v = 3
	}
	p := newPayload(ptr, 3*ptr+32+2*len(e.FileName)+2)
	p.ptrv(e.Base)
	p.ptrv(e.Size)
	p.u32(e.ProcessID)
	p.u32(e.Checksum)
	p.u32(e.TimeDateStamp)
	p.u8(e.SignatureLevel)
	p.u8(e.SignatureType)
	p.u16(0)
	p.ptrv(e.DefaultBase)
	p.u32(0)
	p.u32(0)
	p.u32(0)
	p.u32(0)
	p.utf16z(e.FileName)
	hook := etw.HookID(uint16(etw.GroupImage)<<8 | uint16(e.Opcode))
	if e.Opcode == ImageLoad {
		hook = etw.HookImageLoad
	}
	def := HeaderSystem
	if e.Opcode == ImageDCStart || e.Opcode == ImageDCEnd {
		def = HeaderPerfInfo
	}
	return kernelRecord(ptr, e.Meta, def, v, hook, p.b)
}

// Process opcodes (group 0x03).
const (
	ProcessStart   uint8 = 1
	ProcessEnd     uint8 = 2
	ProcessDCStart uint8 = 3
	ProcessDCEnd   uint8 = 4
	ProcessDefunct uint8 = 39
)

// Process flags (ETW_PROCESS_EVENT_FLAG_*).
const (
	ProcessFlagApplicationID uint32 = 0x1
	ProcessFlagWOW64         uint32 = 0x2
	ProcessFlagProtected     uint32 = 0x4
	ProcessFlagPackaged      uint32 = 0x8
)

// ProcessEvent is a Process Start/End/DCStart/DCEnd (versions 3 and 4) or
// Defunct (version 5) event.
type ProcessEvent struct {
	Meta
	Opcode             uint8
	Version            uint16 // 0 means 4 (5 for ProcessDefunct)
	UniqueProcessKey   uint64 // EPROCESS address
	ProcessID          uint32
	ParentID           uint32
	SessionID          uint32
	ExitStatus         int32
	DirectoryTableBase uint64
	Flags              uint32 // version 4 and later; see ProcessFlag*
	// UserSID is the binary SID (see SID); nil writes the 4-byte "no SID"
	// form.
	UserSID         []byte
	ImageFileName   string // ANSI
	CommandLine     string
	PackageFullName string // version 4 and later
	ApplicationID   string // version 4 and later
	ExitTime        int64  // version 5 only
}

// SID returns the binary form of a SID with the given identifier authority
// and sub-authorities, e.g. SID(5, 21, a, b, c, 1001) for S-1-5-21-a-b-c-1001.
func SID(authority uint64, subs ...uint32) []byte {
	b := []byte{1, byte(len(subs)), byte(authority >> 40), byte(authority >> 32), byte(authority >> 24), byte(authority >> 16), byte(authority >> 8), byte(authority)}
	for _, s := range subs {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	return b
}

// Process returns a Process record. The default header is SYSTEM for Start
// and End and PERFINFO for DCStart, DCEnd and Defunct, as observed.
func Process(ptr int, e ProcessEvent) []byte {
	v := e.Version
	if v == 0 {
		v = 4
		if e.Opcode == ProcessDefunct {
			v = 5
		}
	}
	p := newPayload(ptr, 2*ptr+64+len(e.ImageFileName)+2*len(e.CommandLine))
	p.ptrv(e.UniqueProcessKey)
	p.u32(e.ProcessID)
	p.u32(e.ParentID)
	p.u32(e.SessionID)
	p.u32(uint32(e.ExitStatus))
	p.ptrv(e.DirectoryTableBase)
	if v >= 4 {
		p.u32(e.Flags)
	}
	if len(e.UserSID) == 0 {
		p.u32(0)
	} else {
		// TOKEN_USER {PSID Sid; DWORD Attributes} as two pointer-sized
		// slots holding a non-zero stale pointer, then the SID.
		p.ptrv(0xFFFF_A000_0000_1000)
		p.ptrv(0)
		p.b = append(p.b, e.UserSID...)
	}
	p.ansiz(e.ImageFileName)
	p.utf16z(e.CommandLine)
	if v >= 4 {
		p.utf16z(e.PackageFullName)
		p.utf16z(e.ApplicationID)
	}
	if v >= 5 {
		p.u64(uint64(e.ExitTime))
	}
	def := HeaderSystem
	if e.Opcode == ProcessDCStart || e.Opcode == ProcessDCEnd || e.Opcode == ProcessDefunct {
		def = HeaderPerfInfo
	}
	return kernelRecord(ptr, e.Meta, def, v, etw.HookID(uint16(etw.GroupProcess)<<8|uint16(e.Opcode)), p.b)
}

// Thread opcodes (group 0x05).
const (
	ThreadStart   uint8 = 1
	ThreadEnd     uint8 = 2
	ThreadDCStart uint8 = 3
	ThreadDCEnd   uint8 = 4
)

// ThreadEvent is a Thread Start/End/DCStart/DCEnd event (versions 2-4).
type ThreadEvent struct {
	Meta
	Opcode         uint8
	Version        uint16 // 0 means 3
	ProcessID      uint32
	ThreadID       uint32
	StackBase      uint64
	StackLimit     uint64
	UserStackBase  uint64
	UserStackLimit uint64
	Affinity       uint64 // StartAddr in version 2
	Win32StartAddr uint64
	TebBase        uint64
	SubProcessTag  uint32
	BasePriority   uint8 // version 3 and later
	PagePriority   uint8
	IoPriority     uint8
	ThreadFlags    uint8
	ThreadName     string // version 4 (written when not empty for version 3)
}

// Thread returns a Thread record; the default header is SYSTEM, as
// observed.
func Thread(ptr int, e ThreadEvent) []byte {
	v := e.Version
	if v == 0 {
		v = 3
	}
	p := newPayload(ptr, 16+7*ptr+4+2*len(e.ThreadName)+2)
	p.u32(e.ProcessID)
	p.u32(e.ThreadID)
	p.ptrv(e.StackBase)
	p.ptrv(e.StackLimit)
	p.ptrv(e.UserStackBase)
	p.ptrv(e.UserStackLimit)
	p.ptrv(e.Affinity)
	p.ptrv(e.Win32StartAddr)
	p.ptrv(e.TebBase)
	p.u32(e.SubProcessTag)
	if v >= 3 {
		p.u8(e.BasePriority)
		p.u8(e.PagePriority)
		p.u8(e.IoPriority)
		p.u8(e.ThreadFlags)
		if v >= 4 || e.ThreadName != "" {
			p.utf16z(e.ThreadName)
		}
	}
	return kernelRecord(ptr, e.Meta, HeaderSystem, v, etw.HookID(uint16(etw.GroupThread)<<8|uint16(e.Opcode)), p.b)
}

// KernelTraceControl image-id opcodes (class GUID b3e675d7-...).
const (
	ImageIDInfo uint8 = 0x00 // ImageID
	DbgIDRSDSOp uint8 = 0x24 // DbgID_RSDS
	DbgIDILRSDS uint8 = 0x25 // DbgID_ILRSDS
)

// RSDSEvent is a KernelTraceControl DbgID_RSDS event: the PDB identity of
// an image. It carries the same raw timestamp as the Image event it
// describes.
type RSDSEvent struct {
	TID         etw.TID
	PID         etw.PID
	Timestamp   int64
	Opcode      uint8 // 0 means DbgIDRSDSOp
	ImageBase   uint64
	ProcessID   uint32
	GUID        etw.GUID // PDB signature
	Age         uint32
	PDBFileName string // ANSI
}

// DbgIDRSDS returns a DbgID_RSDS record with an EVENT_TRACE_HEADER
// (FULL_HEADER, class version 2), as KernelTraceControl injects it.
func DbgIDRSDS(ptr int, e RSDSEvent) []byte {
	op := e.Opcode
	if op == 0 {
		op = DbgIDRSDSOp
	}
	p := newPayload(ptr, ptr+24+len(e.PDBFileName)+1)
	p.ptrv(e.ImageBase)
	p.u32(e.ProcessID)
	p.guid(e.GUID)
	p.u32(e.Age)
	p.ansiz(e.PDBFileName)
	return FullHeader(ptr, ClassicHeader{Type: op, Version: 2, TID: e.TID, PID: e.PID, Timestamp: e.Timestamp, GUID: etw.KernelTraceControlGUID}, p.b)
}

// ImageIDEvent is a KernelTraceControl ImageID event (opcode 0).
type ImageIDEvent struct {
	TID              etw.TID
	PID              etw.PID
	Timestamp        int64
	ImageBase        uint64
	ImageSize        uint64
	ProcessID        uint32
	TimeDateStamp    uint32
	OriginalFileName string
}

// ImageID returns a KernelTraceControl ImageID record (FULL_HEADER, class
// version 2).
func ImageID(ptr int, e ImageIDEvent) []byte {
	p := newPayload(ptr, 2*ptr+10+2*len(e.OriginalFileName))
	p.ptrv(e.ImageBase)
	p.ptrv(e.ImageSize)
	p.u32(e.ProcessID)
	p.u32(e.TimeDateStamp)
	p.utf16z(e.OriginalFileName)
	return FullHeader(ptr, ClassicHeader{Type: ImageIDInfo, Version: 2, TID: e.TID, PID: e.PID, Timestamp: e.Timestamp, GUID: etw.KernelTraceControlGUID}, p.b)
}

// EventTrace (group 0x00) opcodes other than the logfile header.
const (
	EventTraceExtension       uint8 = 0x05
	EventTraceRundownComplete uint8 = 0x08
	EventTraceEndExtension    uint8 = 0x20
	EventTracePartitionInfo   uint8 = 0x50 // PartitionInfoExtension
)

// HeaderExtension returns an EventTrace Extension or EndExtension record
// (opcode EventTraceExtension or EventTraceEndExtension, version 2,
// PERFINFO header by default): the session's 8 group masks and the kernel
// event version. Masks[1] bit 0x40 says pool tracing was on.
func HeaderExtension(ptr int, m Meta, opcode uint8, masks [8]uint32, kernelEventVersion uint32) []byte {
	p := newPayload(ptr, 36)
	for _, v := range masks {
		p.u32(v)
	}
	p.u32(kernelEventVersion)
	return kernelRecord(ptr, m, HeaderPerfInfo, 2, etw.HookID(opcode), p.b)
}

// RundownComplete returns an EventTrace RDComplete record (empty payload).
func RundownComplete(ptr int, m Meta) []byte {
	return kernelRecord(ptr, m, HeaderPerfInfo, 2, etw.HookID(EventTraceRundownComplete))
}

// LogfileHeader returns the logfile header event that opens every ETL file:
// a SYSTEM header (type 1 or 2 by ptr), version 2, hook 0, followed by
// TRACE_LOGFILE_HEADER in the 32-bit (0x110 bytes) or 64-bit (0x118 bytes)
// form and the LoggerName and LogFileName strings.
func LogfileHeader(ptr int, m Meta, h *etw.LogfileHeader) []byte {
	p := newPayload(ptr, 0x118+2*len(h.LoggerName)+2*len(h.LogFileName)+4)
	p.u32(h.BufferSize)
	p.u8(h.MajorVersion)
	p.u8(h.MinorVersion)
	p.u8(h.SubVersion)
	p.u8(h.SubMinorVersion)
	p.u32(h.ProviderVersion)
	p.u32(h.NumberOfProcessors)
	p.u64(uint64(h.EndTime))
	p.u32(h.TimerResolution)
	p.u32(h.MaximumFileSize)
	p.u32(h.LogFileMode)
	p.u32(h.BuffersWritten)
	p.u32(h.StartBuffers)
	p.u32(h.PointerSize)
	p.u32(h.EventsLost)
	p.u32(h.CPUSpeedMHz)
	p.ptrv(0) // LoggerName pointer
	p.ptrv(0) // LogFileName pointer
	tz := &h.TimeZone
	p.u32(uint32(tz.Bias))
	p.fixedUTF16(tz.StandardName, 32)
	p.systemTime(tz.StandardDate)
	p.u32(uint32(tz.StandardBias))
	p.fixedUTF16(tz.DaylightName, 32)
	p.systemTime(tz.DaylightDate)
	p.u32(uint32(tz.DaylightBias))
	p.u32(0) // alignment before BootTime
	p.u64(uint64(h.BootTime))
	p.u64(uint64(h.PerfFreq))
	p.u64(uint64(h.StartTime))
	p.u32(h.ReservedFlags)
	p.u32(h.BuffersLost)
	p.utf16z(h.LoggerName)
	p.utf16z(h.LogFileName)
	m.Kind = HeaderSystem
	return kernelRecord(ptr, m, HeaderSystem, 2, etw.HookHeader, p.b)
}

func (p *payload) systemTime(t etw.SystemTime) {
	for _, v := range [...]uint16{t.Year, t.Month, t.DayOfWeek, t.Day, t.Hour, t.Minute, t.Second, t.Milliseconds} {
		p.u16(v)
	}
}

// Offsets of the fields the writer patches in a logfile header record
// (relative to the record start: 32-byte SYSTEM header + payload offset).
const (
	lfhEndTime        = 32 + 0x10
	lfhLogFileMode    = 32 + 0x20
	lfhBuffersWritten = 32 + 0x24
	lfhEventsLost     = 32 + 0x30
)

// lfhBuffersLost returns the record offset of BuffersLost for a pointer
// size.
func lfhBuffersLost(ptr int) int {
	if ptr == 4 {
		return 32 + 0x10C
	}
	return 32 + 0x114
}
