package export

import (
	"strconv"
	"time"
)

// Module is one loaded image as the trace logged it. The same image loaded
// at the same range in several processes may be described by one Module or
// by several equal ones: [Build] identifies modules by value, not by pointer.
type Module struct {
	// Path is the image path as logged, for example
	// `\SystemRoot\system32\ntoskrnl.exe` or
	// `\Device\HarddiskVolume3\Windows\SysWOW64\ntdll.dll`. It becomes the
	// pprof mapping's file name; its last path element (split on `\` and
	// `/`) names unsymbolized frames.
	Path string
	// Start and Limit bound the image in memory: [Start, Limit).
	// Start < Limit is required.
	Start, Limit uint64
	// BuildID identifies the image's PDB: the PDB GUID as 32 lowercase hex
	// digits followed by the PDB age in lowercase hex without leading zeros,
	// for example "3844dbb920174967be7aa4a2c20430fa2" (GUID 3844DBB9-2017-
	// 4967-BE7A-A4A2C20430FA, age 2). "" if unknown.
	BuildID string
	// HasFunctions, HasFilenames and HasLineNumbers tell how far the frames
	// of this module were symbolized: function names, source file names,
	// source line numbers.
	HasFunctions, HasFilenames, HasLineNumbers bool
}

// FrameKind tells which part of a stack a [Frame] belongs to.
type FrameKind uint8

const (
	// Kernel is a kernel-mode frame.
	Kernel FrameKind = iota
	// User is a user-mode frame of native code: a 64-bit process, or the
	// 64-bit WOW64 layer (64-bit ntdll.dll, wow64.dll, wow64win.dll,
	// wow64cpu.dll, ...) of a WOW64 process.
	User
	// WOW64 is a user-mode frame of 32-bit code running in a WOW64 process
	// (SysWOW64 images and the 32-bit application).
	WOW64
	// Marker is a synthetic frame inserted by a producer, such as a folded
	// WOW64 transition. It has no module.
	Marker
)

// String returns "kernel", "user", "wow64" or "marker".
func (k FrameKind) String() string {
	switch k {
	case Kernel:
		return "kernel"
	case User:
		return "user"
	case WOW64:
		return "wow64"
	case Marker:
		return "marker"
	}
	return "FrameKind(" + strconv.Itoa(int(k)) + ")"
}

// Frame is one return address of a stack, with what symbolization found.
type Frame struct {
	// Address is the instruction address as logged.
	Address uint64
	// Module is the image containing Address, nil when Address lies outside
	// every known module. When set, Module.Start <= Address < Module.Limit.
	Module *Module
	// Function is the undecorated symbol name, "" if unknown. For a Marker
	// frame it is the marker's text; "" then means [WOW64Transition].
	Function string
	// SystemName is the decorated (mangled) symbol name, "" if unknown or
	// identical to Function.
	SystemName string
	// File and Line locate the source line, "" and 0 if unknown.
	File string
	Line int
	// Kind tells which part of the stack the frame belongs to.
	Kind FrameKind
}

// Pool kinds as used in [Sample.Pool].
const (
	PoolNonPaged        = "nonpaged"
	PoolPaged           = "paged"
	PoolNonPagedSession = "nonpaged-session"
	PoolPagedSession    = "paged-session"
)

// Sample is the aggregate of the pool allocations that share one stack, pool
// tag, pool kind and process over a window of a trace. Several Samples with
// the same key are summed by [Build].
type Sample struct {
	// Frames is the allocation stack, innermost (the allocating function)
	// first.
	Frames []Frame
	// Tag is the pool tag, 4 characters with trailing spaces kept ("Irp ").
	Tag string
	// Pool is the pool kind, one of the Pool* constants ("nonpaged", ...);
	// other strings are passed through unchanged.
	Pool string
	// Process is the image name of the process the allocation is charged
	// to ("leaky.exe"), PID its process ID.
	Process string
	PID     uint32
	// AllocObjects and AllocBytes count the allocations made in the window.
	AllocObjects, AllocBytes int64
	// InuseObjects and InuseBytes count the allocations still outstanding
	// at the end of the window.
	InuseObjects, InuseBytes int64
	// AllocatedMinusFreedBytes is the bytes allocated minus the bytes freed
	// in the window, attributed to the allocating stack (negative when the
	// window freed more than it allocated); used by [BuildGrowth] only.
	AllocatedMinusFreedBytes int64
}

// Meta describes the trace (or window of a trace) the samples come from.
type Meta struct {
	// Trace is the trace's file name, recorded as the comment "trace: <Trace>".
	Trace string
	// Start is when the window begins (the profile's time_nanos); the zero
	// Time leaves time_nanos unset.
	Start time.Time
	// Duration is the window's length (the profile's duration_nanos). It
	// must not be negative.
	Duration time.Duration
	// Comments are added to the profile after the trace comment. pprof
	// prints comments that do not start with '#' in report headers.
	Comments []string
}

// Options tune [Build] and [BuildGrowth]. The zero value is the documented
// default.
type Options struct {
	// DefaultSampleType is the sample type pprof shows when no
	// -sample_index flag is given: one of SampleAllocObjects,
	// SampleAllocSpace, SampleInuseObjects, SampleInuseSpace. "" means
	// SampleInuseSpace. Ignored by BuildGrowth.
	DefaultSampleType string
	// FoldWOW64 drops the 64-bit user-mode frames (Kind User, that is the
	// WOW64 layer: 64-bit ntdll.dll, wow64*.dll) of every stack that has
	// 32-bit (Kind WOW64) frames, so the [WOW64Transition] marker sits
	// directly between the kernel and the 32-bit frames.
	FoldWOW64 bool
	// QualifyNames prefixes the function names of symbolized frames with
	// their module's file name, as WinDbg and WPA print them:
	// "ntoskrnl.exe!IoAllocateIrpEx". Unsymbolized frames are always
	// named "module+0xoffset".
	QualifyNames bool
	// LeaveUnsymbolized leaves frames without a function name without any
	// line (pprof then prints them as "[module]" and zeroes their address
	// at the default granularity) and copies Module.HasFunctions to the
	// mapping as is. pprof then tries to symbolize those modules itself
	// and, lacking the images and a PDB reader, prints "Local
	// symbolization failed" and "Some binary filenames not available"
	// warnings. Only useful with a pprof build that can symbolize PE/PDB
	// images found on PPROF_BINARY_PATH.
	LeaveUnsymbolized bool
	// KeepAllocatorFrames leaves the profile's DropFrames empty, so that
	// pprof keeps the pool allocator's frames (see [AllocatorFrames]).
	KeepAllocatorFrames bool
}
