package etw

// This file holds the one table of kernel payload layouts. Every typed
// decoder (DecodePool, DecodeImage, ...), Event.Kind and DecodeFields are
// driven by it or checked against it (see kernel_table_test.go). A layout is
// declared once in terms of pointer-sized fields, so the same entry decodes
// 32-bit traces, 64-bit traces and WOW64 (32-bit header) records inside
// 64-bit traces.

import "sync"

// FieldType is the wire type of one field of a payload layout.
type FieldType uint8

// Field types. Pointer-sized types take 4 or 8 bytes depending on the
// record's header type (see [Event.PointerSize]).
const (
	TypeU8       FieldType = iota + 1 // uint8
	TypeI8                            // int8
	TypeU16                           // uint16
	TypeU32                           // uint32
	TypeI32                           // int32 (NTSTATUS and the like)
	TypeU64                           // uint64
	TypeI64                           // int64 (timestamps)
	TypePtr                           // pointer-sized unsigned value, zero-extended
	TypeGUID                          // 16-byte GUID
	TypeSID                           // MOF extension("Sid"): TOKEN_USER + SID, or 4 zero bytes
	TypeANSIZ                         // NUL-terminated 8-bit string
	TypeUTF16Z                        // NUL-terminated UTF-16LE string
	TypePtrArray                      // the rest of the payload as pointer-sized values
	TypeBytes                         // the rest of the payload, raw
	TypeSkip                          // Size bytes that are not reported
)

var fieldTypeNames = [...]string{
	TypeU8: "u8", TypeI8: "i8", TypeU16: "u16", TypeU32: "u32", TypeI32: "i32",
	TypeU64: "u64", TypeI64: "i64", TypePtr: "ptr", TypeGUID: "guid", TypeSID: "sid",
	TypeANSIZ: "ansiz", TypeUTF16Z: "utf16z", TypePtrArray: "ptr[]", TypeBytes: "bytes",
	TypeSkip: "skip",
}

// String returns the short name of the type ("u32", "ptr", "utf16z", ...).
func (t FieldType) String() string {
	if int(t) < len(fieldTypeNames) && fieldTypeNames[t] != "" {
		return fieldTypeNames[t]
	}
	return "FieldType(" + itoa(uint64(t)) + ")"
}

// FieldFormat says how a field is meant to be shown.
type FieldFormat uint8

// Field formats.
const (
	FormatDefault FieldFormat = iota // numbers as numbers, strings as strings
	FormatHex                        // addresses and sizes: "0x..." strings
	FormatPoolTag                    // a pool tag: its four characters
)

// FieldSpec describes one field of a layout.
type FieldSpec struct {
	// Name is the MOF property name ("ImageBase", "Tag", ...).
	Name string
	// Type is the wire type.
	Type FieldType
	// Format says how the value is shown.
	Format FieldFormat
	// Size is the byte count of a TypeSkip field.
	Size int
	// Optional marks a trailing field that older writers omit: when the
	// payload ends before it, decoding stops without error.
	Optional bool
}

// layout is one entry of the table: the payload of the events of one class
// whose opcode is in opcodes and whose version is in [minV, maxV].
type layout struct {
	opcodes    []uint8
	minV, maxV uint16
	fields     []FieldSpec
	raw        bool // payload layout unknown: delivered as one raw field
}

// eventClass is one event class (a kernel group or a classic class GUID).
type eventClass struct {
	name    string
	guid    GUID
	group   int // kernel group, or -1
	names   map[uint8]string
	kinds   *[256]string // "Class/Name" by opcode, built from names by buildKinds
	layouts []layout
}

// Short constructors keep the table readable.
func u8(n string) FieldSpec     { return FieldSpec{Name: n, Type: TypeU8} }
func i8(n string) FieldSpec     { return FieldSpec{Name: n, Type: TypeI8} }
func u16(n string) FieldSpec    { return FieldSpec{Name: n, Type: TypeU16} }
func u32(n string) FieldSpec    { return FieldSpec{Name: n, Type: TypeU32} }
func i32(n string) FieldSpec    { return FieldSpec{Name: n, Type: TypeI32} }
func i64(n string) FieldSpec    { return FieldSpec{Name: n, Type: TypeI64} }
func ptr(n string) FieldSpec    { return FieldSpec{Name: n, Type: TypePtr, Format: FormatHex} }
func ptrDec(n string) FieldSpec { return FieldSpec{Name: n, Type: TypePtr} } // pointer-sized id
func guid(n string) FieldSpec   { return FieldSpec{Name: n, Type: TypeGUID} }
func sid(n string) FieldSpec    { return FieldSpec{Name: n, Type: TypeSID} }
func ansiz(n string) FieldSpec  { return FieldSpec{Name: n, Type: TypeANSIZ} }
func utf16z(n string) FieldSpec { return FieldSpec{Name: n, Type: TypeUTF16Z} }
func frames(n string) FieldSpec { return FieldSpec{Name: n, Type: TypePtrArray, Format: FormatHex} }
func skip(n string, size int) FieldSpec {
	return FieldSpec{Name: n, Type: TypeSkip, Size: size}
}
func opt(f FieldSpec) FieldSpec { f.Optional = true; return f }

const anyVersion = 0xFFFF

// Pool opcodes (PERFINFO_LOG_TYPE_*POOL*, ntwmi.h, Windows 10 numbering).
const (
	opPoolAlloc        = 0x20
	opPoolSessionAlloc = 0x21
	opPoolFree         = 0x22
	opPoolSessionFree  = 0x23
)

// StackWalk opcodes (the exported StackWalk* constants, by shorter names).
const (
	opStack          = StackWalkStack
	opKeyCreate      = StackWalkKeyCreate
	opKeyDelete      = StackWalkKeyDelete
	opKeyRundown     = StackWalkKeyRundown
	opStackKeyKernel = StackWalkStackKeyKernel
	opStackKeyUser   = StackWalkStackKeyUser
)

// Image opcodes.
const (
	opImageLoad    = 10
	opImageUnload  = 2
	opImageDCStart = 3
	opImageDCEnd   = 4
)

// Process and thread TypeGroup1 opcodes.
const (
	opStart   = 1
	opEnd     = 2
	opDCStart = 3
	opDCEnd   = 4
	opDefunct = 39
)

// KernelTraceControl opcodes (DBGID_LOG_TYPE_*).
const (
	opImageID     = 0x00
	opDbgIDNone   = 0x20
	opDbgIDRSDS   = 0x24
	opDbgIDILRSDS = 0x25
	opDbgPPDB     = 0x26
	opDbgDeterm   = 0x28
	opFileVersion = 0x40
)

// EventTrace (group 0) opcodes.
const (
	opHeader       = 0x00
	opExtension    = 0x05
	opEndExtension = 0x20
)

var poolAllocFree = []FieldSpec{
	u32("Type"), {Name: "Tag", Type: TypeU32, Format: FormatPoolTag}, ptr("NumberOfBytes"), ptr("Entry"),
}

var sessionPoolAllocFree = []FieldSpec{
	u32("Type"), {Name: "Tag", Type: TypeU32, Format: FormatPoolTag}, ptr("NumberOfBytes"), ptr("Entry"), u32("SessionId"),
}

var imageV2 = []FieldSpec{
	ptr("ImageBase"), ptr("ImageSize"), u32("ProcessId"), u32("ImageChecksum"), u32("TimeDateStamp"),
	u32("Reserved0"), ptr("DefaultBase"), u32("Reserved1"), u32("Reserved2"), u32("Reserved3"), u32("Reserved4"),
	utf16z("FileName"),
}

var imageV3 = []FieldSpec{
	ptr("ImageBase"), ptr("ImageSize"), u32("ProcessId"), u32("ImageChecksum"), u32("TimeDateStamp"),
	u8("SignatureLevel"), u8("SignatureType"), u16("Reserved0"), ptr("DefaultBase"),
	u32("Reserved1"), u32("Reserved2"), u32("Reserved3"), u32("Reserved4"),
	utf16z("FileName"),
}

var threadV3 = []FieldSpec{
	u32("ProcessId"), u32("TThreadId"), ptr("StackBase"), ptr("StackLimit"), ptr("UserStackBase"),
	ptr("UserStackLimit"), ptr("Affinity"), ptr("Win32StartAddr"), ptr("TebBase"), u32("SubProcessTag"),
	u8("BasePriority"), u8("PagePriority"), u8("IoPriority"), u8("ThreadFlags"),
}

var dbgIDRSDS = []FieldSpec{ptr("ImageBase"), u32("ProcessId"), guid("GuidSig"), u32("Age"), ansiz("PdbFileName")}

var groupMasks = []FieldSpec{
	u32("GroupMask1"), u32("GroupMask2"), u32("GroupMask3"), u32("GroupMask4"),
	u32("GroupMask5"), u32("GroupMask6"), u32("GroupMask7"), u32("GroupMask8"),
	opt(u32("KernelEventVersion")),
}

func ops(o ...uint8) []uint8 { return o }

// classes is the layout table.
var classes = []*eventClass{
	{
		name: "EventTrace", guid: EventTraceGUID, group: int(GroupHeader),
		names: map[uint8]string{
			0x00: "Header", 0x05: "Extension", 0x08: "RDComplete", 0x20: "EndExtension",
			0x30: "RundownBegin", 0x31: "RundownEnd", 0x40: "DbgIdRSDS", 0x41: "DbgIdNB10",
			0x42: "BuildInfo", 0x43: "ProviderBinaryPath", 0x50: "PartitionInfoExtension",
		},
		layouts: []layout{
			// TRACE_LOGFILE_HEADER (MOF EventTrace_Header). The 176 skipped
			// bytes are TIME_ZONE_INFORMATION plus 4 bytes of alignment.
			{opcodes: ops(0x00), maxV: anyVersion, fields: []FieldSpec{
				u32("BufferSize"), u32("Version"), u32("ProviderVersion"), u32("NumberOfProcessors"),
				i64("EndTime"), u32("TimerResolution"), u32("MaximumFileSize"), u32("LogFileMode"),
				u32("BuffersWritten"), u32("StartBuffers"), u32("PointerSize"), u32("EventsLost"),
				u32("CPUSpeed"), ptr("LoggerName"), ptr("LogFileName"), skip("TimeZoneInformation", 176),
				i64("BootTime"), i64("PerfFreq"), i64("StartTime"), u32("ReservedFlags"), u32("BuffersLost"),
				opt(utf16z("SessionNameString")), opt(utf16z("LogFileNameString")),
			}},
			{opcodes: ops(0x05, 0x20), maxV: anyVersion, fields: groupMasks},
			{opcodes: ops(0x08), maxV: anyVersion, fields: []FieldSpec{}},
			{opcodes: ops(0x30, 0x31, 0x41), maxV: anyVersion, raw: true},
			{opcodes: ops(0x40), maxV: anyVersion, fields: []FieldSpec{guid("GuidSig"), u32("Age"), ansiz("PdbFileName")}},
			{opcodes: ops(0x42), maxV: anyVersion, fields: []FieldSpec{utf16z("BuildString")}},
			{opcodes: ops(0x43), maxV: anyVersion, raw: true},
			{opcodes: ops(0x50), maxV: anyVersion, fields: []FieldSpec{
				u16("EventVersion"), u16("Reserved"), u32("PartitionType"), i64("QpcOffsetFromRoot"),
				guid("PartitionId"), guid("ParentId"),
			}},
		},
	},
	{
		name: "Process", guid: ProcessGUID, group: int(GroupProcess),
		names: map[uint8]string{
			1: "Start", 2: "End", 3: "DCStart", 4: "DCEnd", 39: "Defunct", 11: "Terminate",
			32: "PerfCtr", 33: "PerfCtrRundown",
		},
		layouts: []layout{
			{opcodes: ops(1, 2, 3, 4, 39), minV: 0, maxV: 0, fields: []FieldSpec{
				ptrDec("ProcessId"), ptrDec("ParentId"), sid("UserSID"), ansiz("ImageFileName"),
			}},
			{opcodes: ops(1, 2, 3, 4, 39), minV: 1, maxV: 1, fields: []FieldSpec{
				ptr("PageDirectoryBase"), u32("ProcessId"), u32("ParentId"), u32("SessionId"), i32("ExitStatus"),
				sid("UserSID"), ansiz("ImageFileName"),
			}},
			{opcodes: ops(1, 2, 3, 4, 39), minV: 2, maxV: 2, fields: []FieldSpec{
				ptr("UniqueProcessKey"), u32("ProcessId"), u32("ParentId"), u32("SessionId"), i32("ExitStatus"),
				sid("UserSID"), ansiz("ImageFileName"), utf16z("CommandLine"),
			}},
			{opcodes: ops(1, 2, 3, 4, 39), minV: 3, maxV: 3, fields: []FieldSpec{
				ptr("UniqueProcessKey"), u32("ProcessId"), u32("ParentId"), u32("SessionId"), i32("ExitStatus"),
				ptr("DirectoryTableBase"), sid("UserSID"), ansiz("ImageFileName"), utf16z("CommandLine"),
			}},
			{opcodes: ops(1, 2, 3, 4, 39), minV: 4, maxV: 4, fields: []FieldSpec{
				ptr("UniqueProcessKey"), u32("ProcessId"), u32("ParentId"), u32("SessionId"), i32("ExitStatus"),
				ptr("DirectoryTableBase"), u32("Flags"), sid("UserSID"), ansiz("ImageFileName"),
				utf16z("CommandLine"), opt(utf16z("PackageFullName")), opt(utf16z("ApplicationId")),
			}},
			{opcodes: ops(1, 2, 3, 4, 39), minV: 5, maxV: 5, fields: []FieldSpec{
				ptr("UniqueProcessKey"), u32("ProcessId"), u32("ParentId"), u32("SessionId"), i32("ExitStatus"),
				ptr("DirectoryTableBase"), u32("Flags"), sid("UserSID"), ansiz("ImageFileName"),
				utf16z("CommandLine"), utf16z("PackageFullName"), utf16z("ApplicationId"), opt(i64("ExitTime")),
			}},
			{opcodes: ops(11), maxV: anyVersion, fields: []FieldSpec{u32("ProcessId")}},
			{opcodes: ops(32, 33), maxV: anyVersion, raw: true},
		},
	},
	{
		name: "Thread", guid: ThreadGUID, group: int(GroupThread),
		names: map[uint8]string{1: "Start", 2: "End", 3: "DCStart", 4: "DCEnd", 36: "CSwitch", 72: "SetName"},
		layouts: []layout{
			{opcodes: ops(1, 2, 3, 4), minV: 0, maxV: 0, fields: []FieldSpec{u32("TThreadId"), u32("ProcessId")}},
			{opcodes: ops(1, 3), minV: 1, maxV: 1, fields: []FieldSpec{
				u32("ProcessId"), u32("TThreadId"), ptr("StackBase"), ptr("StackLimit"), ptr("UserStackBase"),
				ptr("UserStackLimit"), ptr("StartAddr"), ptr("Win32StartAddr"), i8("WaitMode"),
			}},
			{opcodes: ops(2, 4), minV: 1, maxV: 1, fields: []FieldSpec{u32("ProcessId"), u32("TThreadId")}},
			{opcodes: ops(1, 2, 3, 4), minV: 2, maxV: 2, fields: []FieldSpec{
				u32("ProcessId"), u32("TThreadId"), ptr("StackBase"), ptr("StackLimit"), ptr("UserStackBase"),
				ptr("UserStackLimit"), ptr("StartAddr"), ptr("Win32StartAddr"), ptr("TebBase"), u32("SubProcessTag"),
			}},
			{opcodes: ops(1, 2, 3, 4), minV: 3, maxV: 3, fields: append(threadV3[:len(threadV3):len(threadV3)], opt(utf16z("ThreadName")))},
			{opcodes: ops(1, 2, 3, 4), minV: 4, maxV: 4, fields: append(threadV3[:len(threadV3):len(threadV3)], utf16z("ThreadName"))},
			{opcodes: ops(36), maxV: anyVersion, fields: []FieldSpec{
				u32("NewThreadId"), u32("OldThreadId"), i8("NewThreadPriority"), i8("OldThreadPriority"),
				u8("PreviousCState"), i8("SpareByte"), i8("OldThreadWaitReason"), i8("OldThreadWaitMode"),
				i8("OldThreadState"), i8("OldThreadWaitIdealProcessor"), u32("NewThreadWaitTime"), u32("Reserved"),
			}},
			{opcodes: ops(72), maxV: anyVersion, fields: []FieldSpec{u32("ProcessId"), u32("ThreadId"), utf16z("ThreadName")}},
		},
	},
	{
		name: "PoolTrace", guid: PoolGUID, group: int(GroupPool),
		names: map[uint8]string{
			0x20: "PoolAllocation", 0x21: "SessionPoolAllocation", 0x22: "PoolFree", 0x23: "SessionPoolFree",
			0x24: "AddPoolPage", 0x25: "AddSessionPoolPage", 0x26: "BigPoolPage", 0x27: "BigSessionPoolPage",
			0x28: "PoolSnapDCStart", 0x29: "PoolSnapDCEnd", 0x2A: "BigPoolSnapDCStart", 0x2B: "BigPoolSnapDCEnd",
			0x2C: "SessionPoolSnapDCStart", 0x2D: "SessionPoolSnapDCEnd",
			0x2E: "SessionBigPoolSnapDCStart", 0x2F: "SessionBigPoolSnapDCEnd",
		},
		layouts: []layout{
			{opcodes: ops(0x20, 0x22), maxV: anyVersion, fields: poolAllocFree},
			{opcodes: ops(0x21, 0x23), maxV: anyVersion, fields: sessionPoolAllocFree},
			// ntwmi.h annotates the page events with ETW_POOL_EVENT, the
			// alloc/free layout (not observed in any sample).
			{opcodes: ops(0x24, 0x25, 0x26, 0x27), maxV: anyVersion, fields: poolAllocFree},
			{opcodes: ops(0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F), maxV: anyVersion, raw: true},
		},
	},
	{
		name: "Image", guid: ImageGUID, group: int(GroupImage),
		names: map[uint8]string{10: "Load", 2: "UnLoad", 3: "DCStart", 4: "DCEnd", 33: "KernelBase", 34: "HypercallPage"},
		layouts: []layout{
			{opcodes: ops(10, 2, 3, 4), minV: 0, maxV: 0, fields: []FieldSpec{
				ptr("BaseAddress"), FieldSpec{Name: "ModuleSize", Type: TypeU32, Format: FormatHex}, utf16z("ImageFileName"),
			}},
			{opcodes: ops(10, 2, 3, 4), minV: 1, maxV: 1, fields: []FieldSpec{
				ptr("ImageBase"), ptr("ImageSize"), u32("ProcessId"), utf16z("FileName"),
			}},
			{opcodes: ops(10, 2, 3, 4), minV: 2, maxV: 2, fields: imageV2},
			{opcodes: ops(10, 2, 3, 4), minV: 3, maxV: 3, fields: imageV3},
			{opcodes: ops(33), maxV: anyVersion, fields: []FieldSpec{ptr("ImageBase")}},
			{opcodes: ops(34), maxV: anyVersion, fields: []FieldSpec{ptr("HypercallPageVa")}},
		},
	},
	{
		name: "StackWalk", guid: StackWalkGUID, group: int(GroupStackWalk),
		names: map[uint8]string{
			32: "Stack", 34: "KeyCreate", 35: "KeyDelete", 36: "KeyRundown", 37: "StackKeyKernel", 38: "StackKeyUser",
		},
		layouts: []layout{
			{opcodes: ops(32), maxV: anyVersion, fields: []FieldSpec{
				i64("EventTimeStamp"), u32("StackProcess"), u32("StackThread"), frames("Stack"),
			}},
			{opcodes: ops(34, 35, 36), maxV: anyVersion, fields: []FieldSpec{ptr("StackKey"), frames("Stack")}},
			{opcodes: ops(37, 38), maxV: anyVersion, fields: []FieldSpec{
				i64("EventTimeStamp"), u32("StackProcess"), u32("StackThread"), ptr("StackKey"),
			}},
		},
	},
	{
		name: "KernelTraceControl", guid: KernelTraceControlGUID, group: -1,
		names: map[uint8]string{
			0x00: "ImageID", 0x20: "None", 0x24: "DbgID_RSDS", 0x25: "DbgID_ILRSDS", 0x26: "DbgPPDB",
			0x28: "DbgDeterm", 0x40: "FileVersion",
		},
		layouts: []layout{
			{opcodes: ops(0x00), maxV: anyVersion, fields: []FieldSpec{
				ptr("ImageBase"), ptr("ImageSize"), u32("ProcessId"), u32("TimeDateStamp"), utf16z("OriginalFileName"),
			}},
			{opcodes: ops(0x20, 0x28), maxV: anyVersion, fields: []FieldSpec{ptr("ImageBase"), u32("ProcessId")}},
			{opcodes: ops(0x24, 0x25), maxV: anyVersion, fields: dbgIDRSDS},
			{opcodes: ops(0x26), maxV: anyVersion, fields: []FieldSpec{
				ptr("ImageBase"), u32("ProcessId"), u32("TimeDateStamp"), u16("MajorVersion"), u16("MinorVersion"),
			}},
			{opcodes: ops(0x40), maxV: anyVersion, fields: []FieldSpec{
				FieldSpec{Name: "ImageSize", Type: TypeU32, Format: FormatHex}, u32("TimeDateStamp"),
				utf16z("OrigFileName"), utf16z("FileDescription"), utf16z("FileVersion"), utf16z("BinFileVersion"),
				utf16z("VerLanguage"), utf16z("ProductName"), utf16z("CompanyName"), utf16z("ProductVersion"),
				utf16z("FileId"), utf16z("ProgramId"),
			}},
		},
	},
}

// classByGroup indexes classes by kernel group.
var classByGroup [numKernelGroups]*eventClass

func init() {
	for _, c := range classes {
		if c.group >= 0 {
			classByGroup[c.group] = c
		}
	}
}

// kindsOnce builds the kinds of every class on the first call of Kind:
// most programs never ask, and at package initialization the 4 KB tables
// and their strings took a good part of the package's start-up (see
// BENCHMARKS.md, issue 19).
var kindsOnce sync.Once

func buildKinds() {
	for _, c := range classes {
		c.kinds = new([256]string)
		for op, n := range c.names {
			c.kinds[op] = c.name + "/" + n
		}
	}
}

// classOf returns the event class and opcode of ev, or nil when ev belongs
// to no class of the table. Kernel records are keyed by their hook's group
// (hook 0x030A, Image Load logged in the process group, belongs to Image);
// other records by their provider or class GUID.
func classOf(ev *Event) (*eventClass, uint8) {
	if ev.Header.IsKernel() {
		h := ev.Hook
		if h == HookImageLoad {
			return classByGroup[GroupImage], opImageLoad
		}
		g := h.Group()
		if int(g) < len(classByGroup) {
			return classByGroup[g], h.Type()
		}
		return nil, 0
	}
	if ev.Header == HeaderEvent32 || ev.Header == HeaderEvent64 ||
		ev.Header == HeaderFull32 || ev.Header == HeaderFull64 ||
		ev.Header == HeaderInstance32 || ev.Header == HeaderInstance64 {
		for _, c := range classes {
			if c.guid == ev.Provider {
				return c, ev.Opcode
			}
		}
	}
	return nil, 0
}

// find returns the layout for opcode op and version v. A version newer than
// every known one uses the newest layout of the opcode: newer versions only
// append fields.
func (c *eventClass) find(op uint8, v uint16) *layout {
	var newest *layout
	for i := range c.layouts {
		l := &c.layouts[i]
		has := false
		for _, o := range l.opcodes {
			if o == op {
				has = true
				break
			}
		}
		if !has {
			continue
		}
		if v >= l.minV && v <= l.maxV {
			return l
		}
		if v > l.maxV && (newest == nil || l.maxV > newest.maxV) {
			newest = l
		}
	}
	return newest
}

// lookupLayout returns the class, opcode and layout of ev.
func lookupLayout(ev *Event) (*eventClass, uint8, *layout) {
	c, op := classOf(ev)
	if c == nil {
		return nil, 0, nil
	}
	return c, op, c.find(op, ev.Version)
}

// Kind returns "Class/EventName" with the MOF names ("Image/Load",
// "PoolTrace/PoolFree", "StackWalk/Stack", "KernelTraceControl/DbgID_RSDS",
// ...) for events of the classes this package decodes, or "" for any other
// event. It does not allocate.
func (e *Event) Kind() string {
	c, op := classOf(e)
	if c == nil {
		return ""
	}
	kindsOnce.Do(buildKinds)
	return c.kinds[op]
}

// eventDesc names ev for error messages: its kind and version, or its hook
// or provider.
func eventDesc(ev *Event) string {
	k := ev.Kind()
	if k == "" {
		if ev.Header.IsKernel() {
			k = "hook " + ev.Hook.String()
		} else {
			k = ev.Provider.String() + " opcode " + itoa(uint64(ev.Opcode))
		}
	}
	return k + " v" + itoa(uint64(ev.Version))
}
