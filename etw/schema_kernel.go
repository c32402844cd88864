package etw

// This file holds the schema table Decode uses for the classic kernel
// classes and the classic classes that kernel and xperf sessions write
// (SysConfig, KernelTraceControl). Names, field names and field order
// follow TraceEvent's kernel parser (KernelTraceEventParser.cs in
// microsoft/perfview), so that Decode's output compares with PerfView's;
// the payload layouts are those of the kernel's MOF classes. One entry per
// class; layouts are chosen by opcode and version like the layout table of
// kernel_layout.go, and written in terms of pointer-sized fields so that
// one entry decodes 32-bit and 64-bit traces.

// schemaClass is one event class of the table.
type schemaClass struct {
	provider string // "Windows Kernel" unless set
	task     string
	guid     GUID
	group    int              // kernel group, or -1
	names    map[uint8]string // opcode names
	mof      map[uint8]bool   // opcodes only the MOF names: provider MSNT_SystemTrace
	taskOnly uint8            // 1 + the opcode named by the task alone (EventTrace header)
	layouts  []schemaLayout
}

// schemaHit is the result of lookupSchema.
type schemaHit struct {
	class    *schemaClass
	provider string
	name     string
	layout   *schemaLayout
}

// Short constructors for the table.
func pU8(n string) prop     { return prop{name: n, typ: TypeU8} }
func pU16(n string) prop    { return prop{name: n, typ: TypeU16} }
func pI16(n string) prop    { return prop{name: n, typ: wireI16} }
func pU32(n string) prop    { return prop{name: n, typ: TypeU32} }
func pI32(n string) prop    { return prop{name: n, typ: TypeI32} }
func pU64(n string) prop    { return prop{name: n, typ: TypeU64} }
func pI64(n string) prop    { return prop{name: n, typ: TypeI64} }
func pHex32(n string) prop  { return prop{name: n, typ: TypeU32, fmt: FormatHex} }
func pPtr(n string) prop    { return prop{name: n, typ: TypePtr, fmt: FormatHex} }
func pPtrDec(n string) prop { return prop{name: n, typ: TypePtr} }
func pGUID(n string) prop   { return prop{name: n, typ: TypeGUID} }
func pSID(n string) prop    { return prop{name: n, typ: TypeSID} }
func pStrA(n string) prop   { return prop{name: n, typ: TypeANSIZ} }
func pStr(n string) prop    { return prop{name: n, typ: TypeUTF16Z} }
func pStrN(n string, size int) prop {
	return prop{name: n, typ: wireUTF16N, size: size}
}
func pPort(n string) prop  { return prop{name: n, typ: wireU16BE} }
func pIPv4(n string) prop  { return prop{name: n, typ: wireIPv4} }
func pIPv6(n string) prop  { return prop{name: n, typ: wireIPv6} }
func pFT(n string) prop    { return prop{name: n, typ: wireFiletime} }
func pTicks(n string) prop { return prop{name: n, typ: wireTicksMS} }
func pSince(n string) prop { return prop{name: n, typ: wireSinceMS} }
func pBool(n string) prop  { return prop{name: n, typ: wireBool32} }
func pSkip(n int) prop     { return prop{name: "_", typ: TypeSkip, size: n, hide: true} }
func pHide(p prop) prop    { p.hide = true; return p }
func pOpt(p prop) prop     { p.opt = true; return p }
func pPID(p prop) prop     { p.attr = attrPID; return p }
func pTID(p prop) prop     { p.attr = attrTID; return p }
func pEnum(p prop, n *valueNames) prop {
	p.names = n
	return p
}

// pIrpFlags is the IRP flags of a DiskIO event without the priority bits.
func pIrpFlags() prop {
	p := pEnum(pU32("IrpFlags"), irpFlagNames())
	p.mask = 0x1FFFF
	return p
}

// pAt reads p at an absolute payload offset without moving the cursor.
func pAt(off int, p prop) prop { p.at = off + 1; return p }

// pBits reads a bit field of the byte at off.
func pBits(off int, n string, shift uint8, mask uint64) prop {
	return prop{name: n, typ: TypeU8, at: off + 1, shift: shift, mask: mask}
}

// pBuildTime derives a build time from the TimeDateStamp field read
// before it (signed seconds since 1970), as TraceEvent shows it.
func pBuildTime() prop {
	return prop{name: "BuildTime", typ: wireUnixTime, ref: "TimeDateStamp"}
}

// pSince4 marks a field present from version 4 on.
func pSince4(p prop) prop { p.minV = 4; return p }

func opcodes(o ...uint8) []uint8 { return o }

// Value names TraceEvent shows for kernel enumerations. Like the schema
// table that holds them, they are made when it is (see kernelSchemas):
// as package variables they took half the package's start-up (0.4 of 0.8
// ms), which programs that decode no fields by name pay for nothing.

func processFlagNames() *valueNames {
	return enumOf(true, 0, "None", 1, "PackageFullName", 2, "Wow64", 4, "Protected")
}

func irpFlagNames() *valueNames {
	return enumOf(true,
		0, "None", 0x1, "Nocache", 0x2, "MountCompletion", 0x4, "SynchronousApi", 0x8, "AssociatedIrp",
		0x10, "BufferedIo", 0x20, "DeallocateBuffer", 0x40, "InputOperation", 0x80, "Create",
		0x100, "Read", 0x200, "Write", 0x400, "Close", 0x800, "DeferIoCompletion", 0x1000, "ObQueryName",
		0x2000, "HoldDeviceQueue")
}

// ioPriorityNames names the I/O priority, which the IRP keeps plus one in
// bits 17-19 of its flags.
func ioPriorityNames() *valueNames {
	return enumOf(false, 0, "0", 1, "Verylow", 2, "Low", 3, "Normal", 4, "High", 5, "Critical")
}

// recvOrder is the order TraceEvent lists TcpIp receive-like events in.
var recvOrder = []string{"size", "daddr", "saddr", "dport", "sport", "connid", "seqnum"}

// kernelSchemas returns the table. It is built on first use (see
// lookupSchema): as a package variable, its maps and slices took a good
// part of the package's start-up, which programs that decode no fields
// by name pay for nothing.
func kernelSchemas() []*schemaClass {
	return []*schemaClass{
		{
			task: "EventTrace", guid: EventTraceGUID, group: int(GroupHeader), taskOnly: 1 + 0x00,
			names: map[uint8]string{
				0x05: "Extension", 0x08: "RundownComplete", 0x20: "EndExtension",
			},
			mof: map[uint8]bool{0x50: true},
			layouts: []schemaLayout{
				{opcodes: opcodes(0x00), maxV: anyVersion, props: []prop{
					pU32("BufferSize"), pU32("Version"), pU32("ProviderVersion"), pU32("NumberOfProcessors"),
					pFT("EndTime"), pU32("TimerResolution"), pU32("MaxFileSize"), pU32("LogFileMode"),
					pU32("BuffersWritten"), pU32("StartBuffers"), pU32("PointerSize"), pU32("EventsLost"),
					pU32("CPUSpeed"), pHide(pPtr("LoggerName")), pHide(pPtr("LogFileNamePtr")),
					{name: "UtcOffsetMinutes", typ: TypeI32, late: true}, pSkip(172),
					pFT("BootTime"), pI64("PerfFreq"), pFT("StartTime"), pU32("ReservedFlags"), pU32("BuffersLost"),
					pOpt(pStr("SessionName")), pOpt(pStr("LogFileName")),
				}},
				{opcodes: opcodes(0x05, 0x20), maxV: anyVersion, props: []prop{
					pU32("GroupMask1"), pU32("GroupMask2"), pU32("GroupMask3"), pU32("GroupMask4"),
					pU32("GroupMask5"), pU32("GroupMask6"), pU32("GroupMask7"), pU32("GroupMask8"),
					pOpt(pU32("KernelEventVersion")),
				}},
				{opcodes: opcodes(0x08), maxV: anyVersion},
				{opcodes: opcodes(0x50), maxV: anyVersion, props: []prop{
					pU16("EventVersion"), pHide(pU16("Reserved")), pU32("PartitionType"), pI64("QpcOffsetFromRoot"),
					pGUID("PartitionId"), pGUID("ParentId"),
				}},
			},
		},
		{
			task: "Process", guid: ProcessGUID, group: int(GroupProcess),
			names: map[uint8]string{
				1: "Start", 2: "Stop", 3: "DCStart", 4: "DCStop", 39: "Defunct", 11: "Terminate",
				32: "PerfCtr", 33: "PerfCtrRundown",
			},
			layouts: []schemaLayout{
				{opcodes: opcodes(1, 2, 3, 4, 39), minV: 0, maxV: 0, props: []prop{
					pPID(pPtrDec("ProcessID")), pPtrDec("ParentID"), pHide(pSID("UserSID")), pStrA("ImageFileName"),
				}},
				{opcodes: opcodes(1, 2, 3, 4, 39), minV: 1, maxV: 1, props: []prop{
					pPtr("PageDirectoryBase"), pPID(pU32("ProcessID")), pU32("ParentID"), pI32("SessionID"),
					pI32("ExitStatus"), pHide(pSID("UserSID")), pStrA("ImageFileName"),
				}},
				{opcodes: opcodes(1, 2, 3, 4, 39), minV: 2, maxV: 2, props: []prop{
					pPtr("UniqueProcessKey"), pPID(pU32("ProcessID")), pU32("ParentID"), pI32("SessionID"),
					pI32("ExitStatus"), pHide(pSID("UserSID")), pStrA("ImageFileName"), pStr("CommandLine"),
				}},
				{opcodes: opcodes(1, 2, 3, 4, 39), minV: 3, maxV: anyVersion, order: []string{
					"ProcessID", "ParentID", "ImageFileName", "PageDirectoryBase", "Flags", "SessionID", "ExitStatus",
					"UniqueProcessKey", "CommandLine", "PackageFullName", "ApplicationID",
				}, props: []prop{
					pPtr("UniqueProcessKey"), pPID(pU32("ProcessID")), pU32("ParentID"), pI32("SessionID"),
					pI32("ExitStatus"), pPtr("PageDirectoryBase"), pSince4(pEnum(pU32("Flags"), processFlagNames())),
					pHide(pSID("UserSID")), pStrA("ImageFileName"), pStr("CommandLine"),
					pOpt(pStr("PackageFullName")), pOpt(pStr("ApplicationID")),
				}},
				{opcodes: opcodes(11), maxV: anyVersion, props: []prop{pPID(pU32("ProcessID"))}},
				{opcodes: opcodes(32, 33), minV: 2, maxV: anyVersion, props: []prop{
					pPID(pU32("ProcessID")), pU32("MemoryCount"), pU32("HandleCount"), pHide(pU32("Reserved")),
					pPtrDec("PeakVirtualSize"), pPtrDec("PeakWorkingSetSize"), pPtrDec("PeakPagefileUsage"),
					pPtrDec("QuotaPeakPagedPoolUsage"), pPtrDec("QuotaPeakNonPagedPoolUsage"), pPtrDec("VirtualSize"),
					pPtrDec("WorkingSetSize"), pPtrDec("PagefileUsage"), pPtrDec("QuotaPagedPoolUsage"),
					pPtrDec("QuotaNonPagedPoolUsage"), pPtrDec("PrivatePageCount"),
				}},
			},
		},
		{
			task: "Thread", guid: ThreadGUID, group: int(GroupThread),
			names: map[uint8]string{
				1: "Start", 2: "Stop", 3: "DCStart", 4: "DCStop", 36: "CSwitch", 50: "ReadyThread",
				48: "SetPriority", 49: "SetBasePriority", 51: "SetPagePriority", 52: "SetIoPriority", 72: "SetName",
			},
			layouts: []schemaLayout{
				{opcodes: opcodes(1, 2, 3, 4), minV: 0, maxV: 0, props: []prop{
					pTID(pU32("ThreadID")), pPID(pU32("ProcessID")),
				}},
				{opcodes: opcodes(1, 2, 3, 4), minV: 1, maxV: 1, props: []prop{
					pHide(pPID(pU32("ProcessID"))), pHide(pTID(pU32("TThreadID"))), pPtr("StackBase"), pPtr("StackLimit"),
					pPtr("UserStackBase"), pPtr("UserStackLimit"), pOpt(pPtr("StartAddr")), pOpt(pPtr("Win32StartAddr")),
				}},
				{opcodes: opcodes(1, 2, 3, 4), minV: 2, maxV: anyVersion, props: []prop{
					pHide(pPID(pU32("ProcessID"))), pHide(pTID(pU32("TThreadID"))), pPtr("StackBase"), pPtr("StackLimit"),
					pPtr("UserStackBase"), pPtr("UserStackLimit"), pPtr("StartAddr"), pPtr("Win32StartAddr"),
					pPtr("TebBase"), pU32("SubProcessTag"), pOpt(pU8("BasePriority")), pOpt(pU8("PagePriority")),
					pOpt(pU8("IoPriority")), pOpt(pU8("ThreadFlags")), pOpt(pStr("ThreadName")),
				}},
				{opcodes: opcodes(36), maxV: anyVersion, props: []prop{
					pU32("NewThreadID"), pU32("OldThreadID"), {name: "NewThreadPriority", typ: TypeI8},
					{name: "OldThreadPriority", typ: TypeI8}, pU8("PreviousCState"), pHide(pU8("SpareByte")),
					pEnum(pU8("OldThreadWaitReason"), waitReasonNames()), pEnum(pU8("OldThreadWaitMode"), waitModeNames()),
					pEnum(pU8("OldThreadState"), threadStateNames()), pU8("OldThreadWaitIdealProcessor"),
					pU32("NewThreadWaitTime"), pHide(pU32("Reserved")),
				}},
				{opcodes: opcodes(50), maxV: anyVersion, props: []prop{
					pU32("AwakenedThreadID"), {name: "AdjustReason", typ: TypeI8}, {name: "AdjustIncrement", typ: TypeI8},
					pU8("Flags"), pHide(pU8("Reserved")),
				}},
				{opcodes: opcodes(72), maxV: anyVersion, props: []prop{
					pPID(pU32("ProcessID")), pTID(pU32("ThreadID")), pStr("ThreadName"),
				}},
			},
		},
		{
			task: "Image", guid: ImageGUID, group: int(GroupImage),
			names: map[uint8]string{10: "Load", 2: "Unload", 3: "DCStart", 4: "DCStop"},
			mof:   map[uint8]bool{33: true, 34: true},
			layouts: []schemaLayout{
				{opcodes: opcodes(10, 2, 3, 4), minV: 0, maxV: 0, props: []prop{
					pPtr("ImageBase"), pHex32("ImageSize"), pStr("FileName"),
				}},
				{opcodes: opcodes(10, 2, 3, 4), minV: 1, maxV: 1, props: []prop{
					pPtr("ImageBase"), pPtrDec("ImageSize"), pHide(pPID(pU32("ProcessID"))), pStr("FileName"),
				}},
				{opcodes: opcodes(10, 2, 3, 4), minV: 2, maxV: anyVersion, props: []prop{
					pPtr("ImageBase"), pPtrDec("ImageSize"), pHide(pPID(pU32("ProcessID"))), pU32("ImageChecksum"),
					pI32("TimeDateStamp"), pHide(pU32("Reserved0")), pPtr("DefaultBase"),
					pHide(pU32("Reserved1")), pHide(pU32("Reserved2")), pHide(pU32("Reserved3")), pHide(pU32("Reserved4")),
					pBuildTime(), pStr("FileName"),
				}},
				{opcodes: opcodes(33), maxV: anyVersion, props: []prop{pPtr("ImageBase")}},
				{opcodes: opcodes(34), maxV: anyVersion, props: []prop{pPtr("HypercallPageVa")}},
			},
		},
		{
			task: "DiskIO", guid: groups[GroupIO].guid, group: int(GroupIO),
			names: map[uint8]string{
				10: "Read", 11: "Write", 12: "ReadInit", 13: "WriteInit", 14: "FlushBuffers", 15: "FlushInit",
			},
			layouts: []schemaLayout{
				{opcodes: opcodes(10, 11), minV: 2, maxV: anyVersion, order: []string{
					"DiskNumber", "IrpFlags", "Priority", "TransferSize", "ByteOffset", "Irp", "ElapsedTimeMSec",
					"FileKey", "IssuingThreadID",
				}, props: []prop{
					pU32("DiskNumber"), pIrpFlags(),
					{name: "Priority", typ: TypeU32, at: 4 + 1, shift: 17, mask: 7, names: ioPriorityNames()},
					pU32("TransferSize"), pHide(pU32("Reserved")), pI64("ByteOffset"), pHide(pPtr("FileKey")),
					pPtr("Irp"), pTicks("ElapsedTimeMSec"), pOpt(pHide(pTID(pU32("IssuingThreadID")))),
					pAt(24, pPtr("FileKey")),
				}},
				{opcodes: opcodes(12, 13, 15), minV: 2, maxV: anyVersion, props: []prop{
					pPtr("Irp"), pOpt(pHide(pU32("IssuingThreadID"))),
				}},
				{opcodes: opcodes(14), minV: 2, maxV: anyVersion, props: []prop{
					pU32("DiskNumber"), pIrpFlags(), pHide(pTicks("ElapsedTimeMSec")),
					pPtr("Irp"), pOpt(pHide(pTID(pU32("IssuingThreadID")))), pAt(8, pTicks("ElapsedTimeMSec")),
				}},
			},
		},
		{
			task: "FileIO", guid: groups[GroupFile].guid, group: int(GroupFile),
			names: map[uint8]string{0: "Name", 32: "FileCreate", 35: "FileDelete", 36: "FileRundown"},
			layouts: []schemaLayout{
				{opcodes: opcodes(0, 32, 35, 36), maxV: anyVersion, props: []prop{pPtr("FileKey"), pStr("FileName")}},
			},
		},
		{
			task: "Registry", guid: groups[GroupRegistry].guid, group: int(GroupRegistry),
			names: map[uint8]string{
				10: "Create", 11: "Open", 12: "Delete", 13: "Query", 14: "SetValue", 15: "DeleteValue",
				16: "QueryValue", 17: "EnumerateKey", 18: "EnumerateValueKey", 19: "QueryMultipleValue",
				20: "SetInformation", 21: "Flush", 22: "KCBCreate", 23: "KCBDelete", 24: "KCBRundownBegin",
				25: "KCBRundownEnd", 26: "Virtualize", 27: "Close", 28: "SetSecurity", 29: "QuerySecurity",
			},
			layouts: []schemaLayout{
				{opcodes: opcodes(10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29),
					minV: 2, maxV: anyVersion, order: []string{"Status", "KeyHandle", "ElapsedTimeMSec", "KeyName", "Index"},
					props: []prop{
						pSince("ElapsedTimeMSec"), pHex32("Status"), pU32("Index"), pPtr("KeyHandle"), pStr("KeyName"),
					}},
			},
		},
		{
			task: "ALPC", guid: groups[GroupALPC].guid, group: int(GroupALPC),
			names: map[uint8]string{
				33: "SendMessage", 34: "ReceiveMessage", 35: "WaitForReply", 36: "WaitForNewMessage", 37: "UnwaitThread",
			},
			layouts: []schemaLayout{
				{opcodes: opcodes(33, 34, 35), maxV: anyVersion, props: []prop{pU32("MessageID")}},
				{opcodes: opcodes(36), maxV: anyVersion, props: []prop{pBool("IsServerPort"), pStrA("PortName")}},
				{opcodes: opcodes(37), maxV: anyVersion, props: []prop{pHex32("Status")}},
			},
		},
		{
			task: "ThreadPool", guid: groups[GroupThreadPool].guid, group: int(GroupThreadPool),
			names: map[uint8]string{
				32: "CBEnqueue", 33: "CBStart", 34: "CBDequeue", 35: "CBStop", 36: "CBCancel",
				37: "PoolCreate", 38: "PoolClose", 39: "PoolThreadCountSet",
			},
			layouts: []schemaLayout{
				{opcodes: opcodes(32, 33, 34), maxV: anyVersion, props: []prop{
					pPtr("PoolID"), pPtr("TaskID"), pPtr("CallbackFunction"), pPtr("CallbackContext"), pPtr("SubProcessTag"),
				}},
				{opcodes: opcodes(35), maxV: anyVersion, props: []prop{pPtr("TaskID")}},
				{opcodes: opcodes(36), maxV: anyVersion, props: []prop{pPtr("TaskID"), pU32("CancelCount")}},
				{opcodes: opcodes(37, 38), maxV: anyVersion, props: []prop{pPtr("PoolID")}},
			},
		},
		{
			task: "Memory", guid: groups[GroupMemory].guid, group: int(GroupMemory),
			names: map[uint8]string{
				10: "TransitionFault", 11: "DemandZeroFault", 12: "CopyOnWrite", 13: "GuardPageFault",
				14: "HardPageFault", 15: "AccessViolation", 32: "HardFault", 98: "VirtualAlloc", 99: "VirtualFree",
			},
			layouts: []schemaLayout{
				{opcodes: opcodes(10, 11, 12, 13, 14, 15), maxV: anyVersion, props: []prop{
					pPtr("VirtualAddress"), pPtr("ProgramCounter"),
				}},
				{opcodes: opcodes(32), minV: 2, maxV: anyVersion, props: []prop{
					pSince("ElapsedTimeMSec"), pI64("ReadOffset"), pPtr("VirtualAddress"), pPtr("FileKey"),
					pHide(pTID(pU32("TThreadID"))), pU32("ByteCount"),
				}},
				{opcodes: opcodes(98, 99), maxV: anyVersion, props: []prop{
					pPtr("BaseAddress"), pPtrDec("RegionSize"), pPID(pU32("ProcessID")), pHex32("Flags"),
				}},
			},
		},
		{
			task: "PerfInfo", guid: PerfInfoGUID, group: int(GroupPerfInfo),
			names: map[uint8]string{
				46: "Sample", 47: "PMCSample", 51: "SysClEnter", 52: "SysClExit", 66: "ThreadedDPC", 67: "ISR",
				68: "DPC", 69: "TimerDPC", 73: "CollectionStart", 74: "CollectionEnd",
			},
			layouts: []schemaLayout{
				{opcodes: opcodes(46), minV: 2, maxV: anyVersion, props: []prop{
					pPtr("InstructionPointer"), pHide(pTID(pU32("ThreadID"))), pHide(pU16("Count")),
					{name: "ProcessorNumber", typ: wireCPU},
					pBits(14, "Priority", 3, 0x1f),
					{name: "ExecutingDPC", typ: wireBool8, at: 14 + 1},
					{name: "ExecutingISR", typ: wireBool8, at: 14 + 1, shift: 1},
					pAt(15, pU8("Rank")), pAt(12, pU16("Count")),
				}},
				{opcodes: opcodes(73, 74), minV: 2, maxV: anyVersion, props: []prop{
					pU32("SampleSource"), pU32("NewInterval"), pU32("OldInterval"),
				}},
				{opcodes: opcodes(51), minV: 2, maxV: anyVersion, props: []prop{pPtr("SysCallAddress")}},
				{opcodes: opcodes(52), minV: 2, maxV: anyVersion, props: []prop{pHex32("SysCallNtStatus")}},
				{opcodes: opcodes(66, 68, 69), minV: 2, maxV: anyVersion, props: []prop{
					pSince("ElapsedTimeMSec"), pPtr("Routine"),
				}},
				{opcodes: opcodes(67), minV: 2, maxV: anyVersion, props: []prop{
					pSince("ElapsedTimeMSec"), pPtr("Routine"), pU8("ReturnValue"), pU8("Vector"),
				}},
			},
		},
		{
			task: "TcpIp", guid: groups[GroupTCPIP].guid, group: int(GroupTCPIP),
			names: map[uint8]string{
				10: "Send", 11: "Recv", 12: "Connect", 13: "Disconnect", 14: "Retransmit", 15: "Accept",
				16: "Reconnect", 17: "Fail", 18: "TCPCopy", 26: "SendIPV6", 27: "RecvIPV6", 28: "ConnectIPV6",
				29: "DisconnectIPV6", 30: "RetransmitIPV6", 31: "AcceptIPV6", 32: "ReconnectIPV6", 34: "TCPCopyIPV6",
			},
			layouts: []schemaLayout{
				{opcodes: opcodes(10), minV: 2, maxV: anyVersion, props: []prop{
					pHide(pPID(pU32("PID"))), pI32("size"), pIPv4("daddr"), pIPv4("saddr"), pPort("dport"), pPort("sport"),
					pI32("startime"), pI32("endtime"), pI32("seqnum"), pPtr("connid"),
				}},
				{opcodes: opcodes(11, 13, 14, 16, 18), minV: 2, maxV: anyVersion, order: recvOrder, props: []prop{
					pHide(pPID(pU32("PID"))), pI32("size"), pIPv4("daddr"), pIPv4("saddr"), pPort("dport"), pPort("sport"),
					pI32("seqnum"), pPtr("connid"),
				}},
				{opcodes: opcodes(12, 15), minV: 2, maxV: anyVersion, props: []prop{
					pHide(pPID(pU32("PID"))), pI32("size"), pIPv4("daddr"), pIPv4("saddr"), pPort("dport"), pPort("sport"),
					pU16("mss"), pU16("sackopt"), pU16("tsopt"), pU16("wsopt"), pI32("rcvwin"), pI16("rcvwinscale"),
					pI16("sndwinscale"), pI32("seqnum"), pPtr("connid"),
				}},
				{opcodes: opcodes(26), minV: 2, maxV: anyVersion, props: []prop{
					pHide(pPID(pU32("PID"))), pI32("size"), pIPv6("daddr"), pIPv6("saddr"), pPort("dport"), pPort("sport"),
					pI32("startime"), pI32("endtime"), pI32("seqnum"), pPtr("connid"),
				}},
				{opcodes: opcodes(27, 29, 30, 32, 34), minV: 2, maxV: anyVersion, order: recvOrder, props: []prop{
					pHide(pPID(pU32("PID"))), pI32("size"), pIPv6("daddr"), pIPv6("saddr"), pPort("dport"), pPort("sport"),
					pI32("seqnum"), pPtr("connid"),
				}},
				{opcodes: opcodes(28, 31), minV: 2, maxV: anyVersion, props: []prop{
					pHide(pPID(pU32("PID"))), pI32("size"), pIPv6("daddr"), pIPv6("saddr"), pPort("dport"), pPort("sport"),
					pU16("mss"), pU16("sackopt"), pU16("tsopt"), pU16("wsopt"), pI32("rcvwin"), pI16("rcvwinscale"),
					pI16("sndwinscale"), pI32("seqnum"), pPtr("connid"),
				}},
			},
		},
		{
			task: "UdpIp", guid: groups[GroupUDPIP].guid, group: int(GroupUDPIP),
			names: map[uint8]string{10: "Send", 11: "Recv", 17: "Fail", 26: "SendIPV6", 27: "RecvIPV6"},
			layouts: []schemaLayout{
				{opcodes: opcodes(10, 11), minV: 2, maxV: anyVersion, props: []prop{
					pHide(pPID(pU32("PID"))), pI32("size"), pIPv4("daddr"), pIPv4("saddr"), pPort("dport"), pPort("sport"),
					pI32("seqnum"), pPtr("connid"),
				}},
				{opcodes: opcodes(17), minV: 2, maxV: anyVersion, props: []prop{pU16("Proto"), pU16("FailureCode")}},
				{opcodes: opcodes(26, 27), minV: 2, maxV: anyVersion, props: []prop{
					pHide(pPID(pU32("PID"))), pI32("size"), pHide(pIPv6("daddr")), pHide(pIPv6("saddr")),
					pPort("dport"), pPort("sport"), pI32("seqnum"), pPtr("connid"),
				}},
			},
		},
		{
			task: "SystemConfig", guid: groups[GroupConfig].guid, group: int(GroupConfig),
			names: map[uint8]string{
				10: "CPU", 11: "PhyDisk", 12: "LogDisk", 13: "NIC", 14: "Video", 15: "Services", 16: "Power",
				17: "Network", 21: "IRQ", 22: "PnP", 23: "IDEChannel",
			},
			mof: map[uint8]bool{18: true, 24: true, 25: true, 26: true, 27: true, 28: true, 29: true, 30: true, 31: true, 33: true, 34: true, 35: true, 36: true, 37: true},
			layouts: []schemaLayout{
				{opcodes: opcodes(10), minV: 2, maxV: anyVersion, props: []prop{
					pU32("MHz"), pU32("NumberOfProcessors"), pU32("MemSize"), pU32("PageSize"),
					pU32("AllocationGranularity"), pStrN("ComputerName", 512), pStrN("DomainName", 264),
					pPtr("HyperThreadingFlag"),
				}},
				{opcodes: opcodes(11), minV: 2, maxV: anyVersion, props: []prop{
					pU32("DiskNumber"), pU32("BytesPerSector"), pU32("SectorsPerTrack"), pU32("TracksPerCylinder"),
					pU64("Cylinders"), pU32("SCSIPort"), pU32("SCSIPath"), pU32("SCSITarget"), pU32("SCSILun"),
					pStrN("Manufacturer", 512), pU32("PartitionCount"), pU8("WriteCacheEnabled"), pHide(pU8("Pad")),
					pStrN("BootDriveLetter", 6), pStrN("Spare", 4),
				}},
				{opcodes: opcodes(12), minV: 2, maxV: anyVersion, props: []prop{
					pU64("StartOffset"), pU64("PartitionSize"), pU32("DiskNumber"), pU32("Size"), pU32("DriveType"),
					pStrN("DriveLetterString", 8), pHide(pU32("Pad1")), pU32("PartitionNumber"), pU32("SectorsPerCluster"),
					pU32("BytesPerSector"), pHide(pU32("Pad2")), pI64("NumberOfFreeClusters"), pI64("TotalNumberOfClusters"),
					pStrN("FileSystem", 32), pU32("VolumeExt"), pHide(pU32("Pad3")),
				}},
				{opcodes: opcodes(13), minV: 2, maxV: anyVersion, props: []prop{
					pI64("PhysicalAddr"), pU32("PhysicalAddrLen"), pU32("Ipv4Index"), pU32("Ipv6Index"),
					pStr("NICDescription"), pStr("IpAddresses"), pStr("DnsServerAddresses"),
				}, order: []string{"PhysicalAddrLen", "PhysicalAddr", "Ipv4Index", "Ipv6Index", "NICDescription", "IpAddresses", "DnsServerAddresses"}},
				{opcodes: opcodes(15), minV: 2, maxV: anyVersion, props: []prop{
					pPID(pU32("ProcessID")), pU32("ServiceState"), pU32("SubProcessTag"), pStr("ServiceName"),
					pStr("DisplayName"), pStr("ProcessName"),
				}, order: []string{"ServiceName", "DisplayName", "ProcessName", "ProcessID", "ServiceState", "SubProcessTag"}},
				{opcodes: opcodes(16), minV: 2, maxV: anyVersion, props: []prop{
					pU8("S1"), pU8("S2"), pU8("S3"), pU8("S4"), pU8("S5"), pHide(pU8("Pad1")), pHide(pU8("Pad2")), pHide(pU8("Pad3")),
				}},
				{opcodes: opcodes(17), minV: 2, maxV: anyVersion, props: []prop{
					pU32("TcbTablePartitions"), pI32("MaxHashTableSize"), pU32("MaxUserPort"), pU32("TcpTimedWaitDelay"),
				}},
				{opcodes: opcodes(22), minV: 2, maxV: 3, props: []prop{
					pHide(pU32("IDLength")), pHide(pU32("DescriptionLength")), pHide(pU32("FriendlyNameLength")),
					pStr("DeviceID"), pStr("DeviceDescription"), pStr("FriendlyName"), pOpt(pStr("PdoName")), pOpt(pStr("ServiceName")),
				}},
				{opcodes: opcodes(22), minV: 4, maxV: anyVersion, props: []prop{
					pHide(pGUID("ClassGuid")), pHide(pU32("UpperFilterCount")), pHide(pU32("LowerFilterCount")),
					pStr("DeviceID"), pStr("DeviceDescription"), pStr("FriendlyName"), pStr("PdoName"), pStr("ServiceName"),
				}},
				{opcodes: opcodes(23), minV: 2, maxV: anyVersion, props: []prop{
					pU32("TargetID"), pU32("DeviceType"), pU32("DeviceTimingMode"), pU32("LocationInformationLen"),
					pStr("LocationInformation"),
				}},
				{opcodes: opcodes(25), minV: 2, maxV: anyVersion, props: []prop{
					pStr("SystemManufacturer"), pStr("SystemProductName"), pStr("BiosDate"), pStr("BiosVersion"),
				}},
			},
		},
		{
			task: "SysConfig", guid: MustParseGUID("9b79ee91-b5fd-41c0-a243-4248e266e9d0"), group: -1,
			names: map[uint8]string{32: "BuildInfo", 33: "SystemPaths", 34: "UnknownVolume", 35: "VolumeMapping"},
			layouts: []schemaLayout{
				{opcodes: opcodes(32), maxV: anyVersion, props: []prop{
					pFT("InstallDate"), pStr("BuildLab"), pStr("ProductName"),
				}},
				{opcodes: opcodes(33), maxV: anyVersion, props: []prop{pStr("SystemDirectory"), pStr("SystemWindowsDirectory")}},
				{opcodes: opcodes(34), maxV: anyVersion, props: []prop{pStr("Value")}},
				{opcodes: opcodes(35), maxV: anyVersion, props: []prop{pStr("NtPath"), pStr("DosPath")}},
			},
		},
		{
			provider: "KernelTraceControl", task: "ImageID", guid: KernelTraceControlGUID, group: -1,
			taskOnly: 1 + 0x00,
			names:    map[uint8]string{0x20: "None", 0x24: "DbgID_RSDS", 0x25: "DbgID_ILRSDS", 0x40: "FileVersion"},
			layouts: []schemaLayout{
				{opcodes: opcodes(0x00), maxV: anyVersion, props: []prop{
					pPtr("ImageBase"), pPtrDec("ImageSize"), pU32("ProcessID"), pU32("TimeDateStamp"), pBuildTime(),
					pStr("OriginalFileName"),
				}},
				{opcodes: opcodes(0x20), maxV: anyVersion},
				{opcodes: opcodes(0x24, 0x25), maxV: anyVersion, props: []prop{
					pPtr("ImageBase"), pHide(pU32("ProcessID")), pGUID("GuidSig"), pU32("Age"), pStrA("PDBFileName"),
				}},
				{opcodes: opcodes(0x40), maxV: anyVersion, props: []prop{
					pU32("ImageSize"), pU32("TimeDateStamp"), pBuildTime(), pStr("OrigFileName"), pStr("FileDescription"),
					pStr("FileVersion"), pStr("BinFileVersion"), pStr("VerLanguage"), pStr("ProductName"),
					pStr("CompanyName"), pStr("ProductVersion"), pStr("FileId"), pStr("ProgramId"),
				}},
			},
		},
		{
			provider: "KernelTraceControl", task: "MetaData", guid: MustParseGUID("bbccf6c1-6cd1-48c4-80ff-839482e37671"), group: -1,
			names:   map[uint8]string{32: "EventInfo", 33: "EventMapInfo"},
			layouts: []schemaLayout{{opcodes: opcodes(32, 33), maxV: anyVersion}},
		},
	}
}

// mofNames names the kernel events only the MOF knows (TraceEvent decodes
// them with the operating system's MOF, as provider MSNT_SystemTrace).
var mofNames = map[string]string{
	"EventTrace/80": "PartitionInfoExtension", "Image/33": "KernelBase", "Image/34": "HypercallPage",
	"SystemConfig/18": "OpticalMedia", "SystemConfig/24": "NumaNode", "SystemConfig/25": "Platform",
	"SystemConfig/26": "ProcessorGroup", "SystemConfig/27": "ProcessorNumber", "SystemConfig/28": "DPI",
	"SystemConfig/29": "CodeIntegrity", "SystemConfig/30": "TelemetryInfo", "SystemConfig/31": "Defrag",
	"SystemConfig/33": "DeviceFamily", "SystemConfig/34": "FlightIds", "SystemConfig/35": "Processors",
	"SystemConfig/36": "Virtualization", "SystemConfig/37": "Boot",
}

func mofName(c *schemaClass, op uint8) string {
	if n, ok := mofNames[c.task+"/"+itoa(uint64(op))]; ok {
		return n
	}
	return "Opcode(" + itoa(uint64(op)) + ")"
}

// Thread wait reasons, wait modes and states (KWAIT_REASON,
// KPROCESSOR_MODE, KTHREAD_STATE), made with the schema table.

func waitReasonNames() *valueNames {
	return enumOf(false,
		0, "Executive", 1, "FreePage", 2, "PageIn", 3, "PoolAllocation", 4, "DelayExecution",
		5, "Suspended", 6, "UserRequest", 7, "WrExecutive", 8, "WrFreePage", 9, "WrPageIn",
		10, "WrPoolAllocation", 11, "WrDelayExecution", 12, "WrSuspended", 13, "WrUserRequest",
		14, "WrEventPair", 15, "WrQueue", 16, "WrLpcReceive", 17, "WrLpcReply", 18, "WrVirtualMemory",
		19, "WrPageOut", 20, "WrRendezvous", 21, "WrKeyedEvent", 22, "WrTerminated", 23, "WrProcessInSwap",
		24, "WrCpuRateControl", 25, "WrCalloutStack", 26, "WrKernel", 27, "WrResource", 28, "WrPushLock",
		29, "WrMutex", 30, "WrQuantumEnd", 31, "WrDispatchInt", 32, "WrPreempted", 33, "WrYieldExecution",
		34, "WrFastMutex", 35, "WrGuardedMutex", 36, "WrRundown")
}

func waitModeNames() *valueNames { return enumOf(false, 0, "KernelMode", 1, "UserMode") }

func threadStateNames() *valueNames {
	return enumOf(false,
		0, "Initialized", 1, "Ready", 2, "Running", 3, "Standby", 4, "Terminated", 5, "Waiting",
		6, "Transition", 7, "DeferredReady")
}
