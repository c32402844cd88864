package export

import (
	"time"
)

// The synthetic fixture mirrors testdata/irp-leak.etl (not yet in the
// repository): leaky.exe (pid 4242), a 32-bit program running under WOW64,
// leaks 156 nonpaged "Irp " blocks of 1,024 bytes (159,744 bytes) from one
// ReadFile stack. Other tags are allocated and freed (alloc values only) or
// leave a little outstanding; some frames are unsymbolized (module known,
// no PDB) and one lies outside every module.

var (
	fxStart    = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	fxDuration = 60 * time.Second
)

// Kernel modules.
var (
	modNt = &Module{Path: `\SystemRoot\system32\ntoskrnl.exe`, Start: 0xfffff80350a00000, Limit: 0xfffff80351a46000,
		BuildID: "3844dbb920174967be7aa4a2c20430fa1", HasFunctions: true}
	modFlt = &Module{Path: `\SystemRoot\System32\drivers\FLTMGR.SYS`, Start: 0xfffff80354200000, Limit: 0xfffff80354279000,
		BuildID: "a1b2c3d4e5f60718293a4b5c6d7e8f901"}
	modContoso = &Module{Path: `\SystemRoot\System32\drivers\contoso.sys`, Start: 0xfffff80356b00000, Limit: 0xfffff80356b2c000}
)

// User modules. 64-bit system DLLs share their base across processes in one
// boot; 32-bit images of different processes overlap at 0x400000.
var (
	modNtdll64 = &Module{Path: `\Device\HarddiskVolume3\Windows\System32\ntdll.dll`, Start: 0x7ffb1d6e0000, Limit: 0x7ffb1d8d8000,
		BuildID: "9fa9c7a0a9b2e2a43c3f0a8d5c1b8e2e1", HasFunctions: true}
	modWow64 = &Module{Path: `\Device\HarddiskVolume3\Windows\System32\wow64.dll`, Start: 0x7ffb1c580000, Limit: 0x7ffb1c5d9000,
		BuildID: "0f7e2b5a4c3d4e8f9a1b2c3d4e5f60711", HasFunctions: true}
	modWow64cpu = &Module{Path: `\Device\HarddiskVolume3\Windows\System32\wow64cpu.dll`, Start: 0x77c10000, Limit: 0x77c1a000,
		BuildID: "5d4c3b2a19087f6e5d4c3b2a190876541", HasFunctions: true}
	modNtdll32 = &Module{Path: `\Device\HarddiskVolume3\Windows\SysWOW64\ntdll.dll`, Start: 0x77d50000, Limit: 0x77ef4000,
		BuildID: "1e2d3c4b5a6978879685a4b3c2d1e0f01", HasFunctions: true}
	modKernelBase32 = &Module{Path: `\Device\HarddiskVolume3\Windows\SysWOW64\KernelBase.dll`, Start: 0x76a10000, Limit: 0x76c24000,
		BuildID: "2a3b4c5d6e7f80912a3b4c5d6e7f80911", HasFunctions: true}
	modKernel3232 = &Module{Path: `\Device\HarddiskVolume3\Windows\SysWOW64\kernel32.dll`, Start: 0x75c20000, Limit: 0x75d10000,
		BuildID: "3b4c5d6e7f8091a23b4c5d6e7f8091a21", HasFunctions: true}
	modLeaky = &Module{Path: `\Device\HarddiskVolume3\Apps\leaky\leaky.exe`, Start: 0x400000, Limit: 0x425000,
		BuildID: "c0ffee00c0ffee00c0ffee00c0ffee003", HasFunctions: true, HasFilenames: true, HasLineNumbers: true}
	modOther        = &Module{Path: `\Device\HarddiskVolume3\Apps\other\other.exe`, Start: 0x400000, Limit: 0x412000}
	modKernelBase64 = &Module{Path: `\Device\HarddiskVolume3\Windows\System32\KernelBase.dll`, Start: 0x7ffb1a9c0000, Limit: 0x7ffb1ad7e000,
		BuildID: "4c5d6e7f8091a2b34c5d6e7f8091a2b31", HasFunctions: true}
	modExplorer = &Module{Path: `\Device\HarddiskVolume3\Windows\explorer.exe`, Start: 0x7ff6e4a20000, Limit: 0x7ff6e4e8e000}
)

func fn(m *Module, off uint64, name string, kind FrameKind) Frame {
	return Frame{Address: m.Start + off, Module: m, Function: name, Kind: kind}
}

func raw(m *Module, off uint64, kind FrameKind) Frame {
	return Frame{Address: m.Start + off, Module: m, Kind: kind}
}

// irpStack is the leaking stack, innermost first.
func irpStack() []Frame {
	return []Frame{
		fn(modNt, 0x2a1f30, "IopAllocateIrpPrivate", Kernel),
		fn(modNt, 0x2a1e85, "IoAllocateIrpEx", Kernel),
		fn(modNt, 0x6b0c12, "NtReadFile", Kernel),
		fn(modNt, 0x42d8f5, "KiSystemServiceCopyEnd", Kernel),
		fn(modNtdll64, 0x9d0a4, "NtReadFile", User),
		fn(modWow64, 0x1b3c2, "whNtReadFile", User),
		fn(modWow64, 0x8d51, "Wow64SystemServiceEx", User),
		fn(modWow64cpu, 0x1783, "CpupSyscallStub", User),
		fn(modWow64cpu, 0x1199, "TurboDispatchJumpAddressEnd", User),
		fn(modWow64, 0x7b8e, "RunCpuSimulation", User),
		{Address: modNtdll32.Start + 0x72ecc, Module: modNtdll32, Function: "NtReadFile", SystemName: "_NtReadFile@36", Kind: WOW64},
		{Address: modKernelBase32.Start + 0x10a5f, Module: modKernelBase32, Function: "ReadFile", SystemName: "_ReadFile@20", Kind: WOW64},
		{Address: modLeaky.Start + 0x1234, Module: modLeaky, Function: "ReadLoop", SystemName: "?ReadLoop@@YGXPAX@Z",
			File: `C:\src\leaky\leaky.cpp`, Line: 42, Kind: WOW64},
		{Address: modLeaky.Start + 0x1389, Module: modLeaky, Function: "WorkerThread", SystemName: "?WorkerThread@@YGKPAX@Z",
			File: `C:\src\leaky\leaky.cpp`, Line: 77, Kind: WOW64},
		{Address: modKernel3232.Start + 0x1fa29, Module: modKernel3232, Function: "BaseThreadInitThunk", SystemName: "@BaseThreadInitThunk@12", Kind: WOW64},
		{Address: modNtdll32.Start + 0x67c0e, Module: modNtdll32, Function: "__RtlUserThreadStart", SystemName: "___RtlUserThreadStart@8", Kind: WOW64},
		{Address: modNtdll32.Start + 0x67bde, Module: modNtdll32, Function: "RtlUserThreadStart", SystemName: "__RtlUserThreadStart@8", Kind: WOW64},
	}
}

// fileStack: explorer.exe (native 64-bit) opening files through the filter
// manager, which has no symbols.
func fileStack() []Frame {
	return []Frame{
		fn(modNt, 0x9c1010, "ExAllocatePool2", Kernel),
		raw(modFlt, 0x1a2b0, Kernel),
		raw(modFlt, 0x4c11e, Kernel),
		fn(modNt, 0x6a3344, "IopCreateFile", Kernel),
		fn(modNt, 0x6a2f00, "NtCreateFile", Kernel),
		fn(modNt, 0x42d8f5, "KiSystemServiceCopyEnd", Kernel),
		fn(modNtdll64, 0x9d4e4, "NtCreateFile", User),
		fn(modKernelBase64, 0x2a6d1, "CreateFileInternal", User),
		fn(modKernelBase64, 0x29f70, "CreateFileW", User),
		raw(modExplorer, 0x3e5a1, User),
		raw(modExplorer, 0x12f00, User),
	}
}

// irpExplorerStack: explorer.exe also allocates IRPs, all freed.
func irpExplorerStack() []Frame {
	return []Frame{
		fn(modNt, 0x2a1f30, "IopAllocateIrpPrivate", Kernel),
		fn(modNt, 0x2a1e85, "IoAllocateIrpEx", Kernel),
		fn(modNt, 0x6b0c12, "NtReadFile", Kernel),
		fn(modNt, 0x42d8f5, "KiSystemServiceCopyEnd", Kernel),
		fn(modNtdll64, 0x9d0a4, "NtReadFile", User),
		fn(modKernelBase64, 0x31d02, "ReadFile", User),
		raw(modExplorer, 0x3e7f0, User),
	}
}

// systemStack: a System thread of contoso.sys (no PDB, no build ID) calls
// through code outside every module.
func systemStack() []Frame {
	return []Frame{
		fn(modNt, 0x9c1010, "ExAllocatePool2", Kernel),
		fn(modNt, 0x5e7a20, "MiCreateSegment", Kernel),
		raw(modContoso, 0x1234, Kernel),
		{Address: 0xfffff80361234567, Kind: Kernel},
		raw(modContoso, 0x20a8, Kernel),
		fn(modNt, 0x35e8a1, "PspSystemThreadStartup", Kernel),
		fn(modNt, 0x42c7e4, "KiStartSystemThread", Kernel),
	}
}

// otherStack: a second 32-bit process whose image overlaps leaky.exe's
// address range; no symbols for other.exe.
func otherStack() []Frame {
	return []Frame{
		fn(modNt, 0x9c1010, "ExAllocatePool2", Kernel),
		fn(modNt, 0x61b0c0, "SepDuplicateToken", Kernel),
		fn(modNt, 0x42d8f5, "KiSystemServiceCopyEnd", Kernel),
		fn(modNtdll64, 0x9d9c4, "NtDuplicateToken", User),
		fn(modWow64, 0x1c001, "whNtDuplicateToken", User),
		fn(modWow64, 0x8d51, "Wow64SystemServiceEx", User),
		fn(modWow64cpu, 0x1783, "CpupSyscallStub", User),
		fn(modWow64cpu, 0x1199, "TurboDispatchJumpAddressEnd", User),
		fn(modWow64, 0x7b8e, "RunCpuSimulation", User),
		{Address: modNtdll32.Start + 0x73a1c, Module: modNtdll32, Function: "NtDuplicateToken", SystemName: "_NtDuplicateToken@24", Kind: WOW64},
		raw(modOther, 0x2200, WOW64),
		raw(modOther, 0x1010, WOW64),
	}
}

// irpLeakWindow returns the samples of a window of the fixture trace:
// half 0 is the whole trace, 1 the first half, 2 the second (last) half.
// Inuse counts blocks outstanding at the end of the window; the Irp leak
// has 78 blocks outstanding at half time and 156 at the end.
func irpLeakWindow(half int) []Sample {
	// Irp blocks outstanding at the start and at the end of the window;
	// the window's growth (allocated minus freed) is their difference.
	irpBefore, irpInuse := int64(0), int64(156)
	div := int64(1) // alloc counts are spread evenly over the trace
	switch half {
	case 1:
		div, irpInuse = 2, 78
	case 2:
		div, irpBefore = 2, 78
	}
	leaked := irpInuse - irpBefore
	samples := []Sample{
		// The leak, split in two ledger entries (the ledger may emit
		// several per key): Build sums them.
		{Frames: irpStack(), Tag: "Irp ", Pool: PoolNonPaged, Process: "leaky.exe", PID: 4242,
			AllocObjects: 100 / div, AllocBytes: 100 * 1024 / div, InuseObjects: irpInuse - 56, InuseBytes: (irpInuse - 56) * 1024,
			AllocatedMinusFreedBytes: (leaked - 56) * 1024},
		{Frames: irpStack(), Tag: "Irp ", Pool: PoolNonPaged, Process: "leaky.exe", PID: 4242,
			AllocObjects: 200 / div, AllocBytes: 200 * 1024 / div, InuseObjects: 56, InuseBytes: 56 * 1024,
			AllocatedMinusFreedBytes: 56 * 1024},
		{Frames: irpExplorerStack(), Tag: "Irp ", Pool: PoolNonPaged, Process: "explorer.exe", PID: 3100,
			AllocObjects: 40 / div, AllocBytes: 40 * 1024 / div},
		{Frames: fileStack(), Tag: "File", Pool: PoolPaged, Process: "explorer.exe", PID: 3100,
			AllocObjects: 64 / div, AllocBytes: 64 * 512 / div},
		{Frames: systemStack(), Tag: "MmSt", Pool: PoolPaged, Process: "System", PID: 4,
			AllocObjects: 10 / div, AllocBytes: 10 * 4096 / div, InuseObjects: 2, InuseBytes: 2 * 4096,
			AllocatedMinusFreedBytes: -16384 / div},
		{Frames: otherStack(), Tag: "Toke", Pool: PoolPagedSession, Process: "other.exe", PID: 5150,
			AllocObjects: 12 / div, AllocBytes: 12 * 1536 / div},
	}
	return samples
}

// irpLeakMeta returns the Meta of a window (see irpLeakWindow).
func irpLeakMeta(half int) Meta {
	m := Meta{Trace: "irp-leak.etl", Start: fxStart, Duration: fxDuration}
	switch half {
	case 1:
		m.Duration = fxDuration / 2
		m.Comments = []string{"window: first half"}
	case 2:
		m.Start = fxStart.Add(fxDuration / 2)
		m.Duration = fxDuration / 2
		m.Comments = []string{"window: last half"}
	}
	return m
}
