package etw

// Group is a classic kernel event group, the high byte of a hook id
// (EVENT_TRACE_GROUP_* >> 8 in ntwmi.h).
type Group uint8

// Kernel event groups.
const (
	GroupHeader      Group = 0x00 // EventTrace (logfile header, extension, rundown)
	GroupIO          Group = 0x01 // DiskIo
	GroupMemory      Group = 0x02 // PageFault
	GroupProcess     Group = 0x03 // Process (and Image Load, hook 0x030A)
	GroupFile        Group = 0x04 // FileIo
	GroupThread      Group = 0x05 // Thread
	GroupTCPIP       Group = 0x06 // TcpIp
	GroupJob         Group = 0x07 // Job
	GroupUDPIP       Group = 0x08 // UdpIp
	GroupRegistry    Group = 0x09 // Registry
	GroupDbgPrint    Group = 0x0A // DbgPrint
	GroupConfig      Group = 0x0B // SystemConfig
	GroupSpare1      Group = 0x0C // EventTraceSpare1
	GroupWNF         Group = 0x0D // Wnf
	GroupPool        Group = 0x0E // PoolTrace
	GroupPerfInfo    Group = 0x0F // PerfInfo
	GroupHeap        Group = 0x10 // Heap
	GroupObject      Group = 0x11 // Object
	GroupPower       Group = 0x12 // Power
	GroupModBound    Group = 0x13 // ModBound
	GroupImage       Group = 0x14 // Image
	GroupDPC         Group = 0x15 // Dpc
	GroupCC          Group = 0x16 // Cc
	GroupCritSec     Group = 0x17 // CritSec
	GroupStackWalk   Group = 0x18 // StackWalk
	GroupUMS         Group = 0x19 // Ums
	GroupALPC        Group = 0x1A // ALPC
	GroupSplitIO     Group = 0x1B // SplitIo
	GroupThreadPool  Group = 0x1C // ThreadPool
	GroupHypervisor  Group = 0x1D // Hypervisor
	GroupHypervisorX Group = 0x1E // HypervisorX
	numKernelGroups        = 0x1F
)

type groupInfo struct {
	name string
	guid GUID
}

var groups = [numKernelGroups]groupInfo{
	GroupHeader:      {"EventTrace", MustParseGUID("68fdd900-4a3e-11d1-84f4-0000f80464e3")},
	GroupIO:          {"DiskIo", MustParseGUID("3d6fa8d4-fe05-11d0-9dda-00c04fd7ba7c")},
	GroupMemory:      {"PageFault", MustParseGUID("3d6fa8d3-fe05-11d0-9dda-00c04fd7ba7c")},
	GroupProcess:     {"Process", MustParseGUID("3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c")},
	GroupFile:        {"FileIo", MustParseGUID("90cbdc39-4a3e-11d1-84f4-0000f80464e3")},
	GroupThread:      {"Thread", MustParseGUID("3d6fa8d1-fe05-11d0-9dda-00c04fd7ba7c")},
	GroupTCPIP:       {"TcpIp", MustParseGUID("9a280ac0-c8e0-11d1-84e2-00c04fb998a2")},
	GroupJob:         {"Job", MustParseGUID("3282fc76-feed-498e-8aa7-e70f459d430e")},
	GroupUDPIP:       {"UdpIp", MustParseGUID("bf3a50c5-a9c9-4988-a005-2df0b7c80f80")},
	GroupRegistry:    {"Registry", MustParseGUID("ae53722e-c863-11d2-8659-00c04fa321a1")},
	GroupDbgPrint:    {"DbgPrint", MustParseGUID("13976d09-a327-438c-950b-7f03192815c7")},
	GroupConfig:      {"SystemConfig", MustParseGUID("01853a65-418f-4f36-aefc-dc0f1d2fd235")},
	GroupSpare1:      {"EventTraceSpare1", MustParseGUID("99134383-5248-43fc-834b-529454e75df3")},
	GroupWNF:         {"Wnf", MustParseGUID("42695762-ea50-497a-9068-5cbbb35e0b95")},
	GroupPool:        {"PoolTrace", MustParseGUID("0268a8b6-74fd-4302-9dd0-6e8f1795c0cf")},
	GroupPerfInfo:    {"PerfInfo", MustParseGUID("ce1dbfb4-137e-4da6-87b0-3f59aa102cbc")},
	GroupHeap:        {"Heap", MustParseGUID("222962ab-6180-4b88-a825-346b75f2a24a")},
	GroupObject:      {"Object", MustParseGUID("89497f50-effe-4440-8cf2-ce6b1cdcaca7")},
	GroupPower:       {"Power", MustParseGUID("e43445e0-0903-48c3-b878-ff0fccebdd04")},
	GroupModBound:    {"ModBound", MustParseGUID("a9152f00-3f58-4bee-92a1-70c7d079d5dd")},
	GroupImage:       {"Image", MustParseGUID("2cb15d1d-5fc1-11d2-abe1-00a0c911f518")},
	GroupDPC:         {"Dpc", MustParseGUID("b2d14872-7c5b-463d-8419-ee9bf7d23e04")},
	GroupCC:          {"Cc", MustParseGUID("7687a439-f752-45b8-b741-321aec0f8df9")},
	GroupCritSec:     {"CritSec", MustParseGUID("3ac66736-cc59-4cff-8115-8df50e39816b")},
	GroupStackWalk:   {"StackWalk", MustParseGUID("def2fe46-7bd6-4b80-bd94-f57fe20d0ce3")},
	GroupUMS:         {"Ums", MustParseGUID("bddad2c1-52d1-4aea-94d6-b3ca9236f62e")},
	GroupALPC:        {"ALPC", MustParseGUID("45d8cccd-539f-4b72-a8b7-5c683142609a")},
	GroupSplitIO:     {"SplitIo", MustParseGUID("d837ca92-12b9-44a5-ad6a-3a65b3578aa8")},
	GroupThreadPool:  {"ThreadPool", MustParseGUID("c861d0e2-a2c1-4d36-9f9c-970bab943a12")},
	GroupHypervisor:  {"Hypervisor", MustParseGUID("7f2a405c-69b5-4bf9-a1f5-30e8f1afab5e")},
	GroupHypervisorX: {"HypervisorX", MustParseGUID("2ce9a149-effe-42f0-a635-a1d39e26c8f2")},
}

// Well-known class and provider GUIDs.
var (
	EventTraceGUID         = groups[GroupHeader].guid                              // 68fdd900-..., EventTrace (group 0x00)
	ProcessGUID            = groups[GroupProcess].guid                             // 3d6fa8d0-..., Process (group 0x03)
	ThreadGUID             = groups[GroupThread].guid                              // 3d6fa8d1-..., Thread (group 0x05)
	PoolGUID               = groups[GroupPool].guid                                // 0268a8b6-..., PoolTrace (group 0x0E)
	PerfInfoGUID           = groups[GroupPerfInfo].guid                            // ce1dbfb4-..., PerfInfo (group 0x0F)
	ImageGUID              = groups[GroupImage].guid                               // 2cb15d1d-..., Image (group 0x14)
	StackWalkGUID          = groups[GroupStackWalk].guid                           // def2fe46-..., StackWalk (group 0x18)
	KernelTraceControlGUID = MustParseGUID("b3e675d7-2554-4f18-830b-2762732560de") // ImageID / DbgID task GUID
	SystemTraceControlGUID = MustParseGUID("9e814aad-3204-11d2-9a82-006008a86939") // kernel logger control GUID
)

// GUID returns the event-class GUID of the group, or the zero GUID for a
// group this package does not know.
func (g Group) GUID() GUID {
	if int(g) < len(groups) {
		return groups[g].guid
	}
	return GUID{}
}

// String returns the MOF class name of the group ("PoolTrace", "Image", ...)
// or "Group(0xNN)".
func (g Group) String() string {
	if int(g) < len(groups) && groups[g].name != "" {
		return groups[g].name
	}
	return "Group(0x" + string([]byte{hexDigits[g>>4], hexDigits[g&0xf]}) + ")"
}

// GroupOf returns the kernel group whose class GUID is g.
func GroupOf(g GUID) (Group, bool) {
	for i := range groups {
		if groups[i].guid == g {
			return Group(i), true
		}
	}
	return 0, false
}

// HookID is a classic kernel event id: group<<8 | type.
type HookID uint16

// Group returns the hook's group (high byte).
func (h HookID) Group() Group { return Group(h >> 8) }

// Type returns the hook's event type (low byte), the opcode.
func (h HookID) Type() uint8 { return uint8(h) }

// String returns the hook as 4 lowercase hex digits, as the census writes it.
func (h HookID) String() string {
	return string([]byte{hexDigits[h>>12&0xf], hexDigits[h>>8&0xf], hexDigits[h>>4&0xf], hexDigits[h&0xf]})
}

// Well-known hook ids.
const (
	HookHeader         HookID = 0x0000 // EventTrace Header (logfile header event)
	HookImageLoad      HookID = 0x030A // Image Load, logged in the process group
	HookStackWalk      HookID = 0x1820 // StackWalk Stack
	HookStackKeyKernel HookID = 0x1825 // StackWalk StackKeyKernel
	HookStackKeyUser   HookID = 0x1826 // StackWalk StackKeyUser

	HookPoolAlloc        HookID = 0x0E20 // PoolTrace PoolAllocation
	HookPoolSessionAlloc HookID = 0x0E21 // PoolTrace SessionPoolAllocation
	HookPoolFree         HookID = 0x0E22 // PoolTrace PoolFree
	HookPoolSessionFree  HookID = 0x0E23 // PoolTrace SessionPoolFree
	HookStackKeyCreate   HookID = 0x1822 // StackWalk KeyCreate
	HookStackKeyDelete   HookID = 0x1823 // StackWalk KeyDelete
	HookStackKeyRundown  HookID = 0x1824 // StackWalk KeyRundown
	HookHardFault        HookID = 0x0220 // PageFault HardFault (PERFINFO header, thread in the payload)
	HookSampledProfile   HookID = 0x0F2E // PerfInfo SampledProfile (PERFINFO header, thread in the payload)
)
