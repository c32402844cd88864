// Package export writes Windows kernel pool-allocation traces as pprof
// profiles that `go tool pprof` (and any pprof-compatible viewer) reads
// natively: which allocations are still outstanding, by pool tag, pool kind,
// process and stack.
//
// The input is a ledger snapshot of a whole trace or of a window of it,
// already aggregated per stack: a slice of [Sample], each carrying its
// stack as [Frame] values (innermost first) with their [Module], plus a
// [Meta] naming the trace and its time span. The package depends on no other
// etwkit package; a thin adapter feeds it from the pool ledger and the stack
// symbolizer.
//
//	p, err := export.Build(samples, export.Meta{Trace: "irp-leak.etl", Start: t0, Duration: d}, export.Options{})
//	...
//	err = export.Write(f, p) // then: go tool pprof -top irp-leak.pb.gz
//
// # Sample types and labels
//
// [Build] profiles have the sample types of Go heap profiles, so pprof's
// flags work unchanged (-sample_index=alloc_space, -inuse_objects, ...):
// alloc_objects/count, alloc_space/bytes, inuse_objects/count and
// inuse_space/bytes, the default being inuse_space (see
// [Options.DefaultSampleType]). Alloc counts what the window allocated,
// inuse what is outstanding at the end of the window. The period type is
// space/bytes with period 1: every allocation is traced, nothing is sampled.
//
// There is one pprof sample per distinct (stack, tag, pool kind, process,
// pid), with string labels "tag" (the pool tag with its trailing spaces,
// "Irp "), "pool" ("nonpaged", "paged", "nonpaged-session",
// "paged-session") and "process" (image name), and the numeric label "pid".
// Filter with -tagfocus=tag=Irp, -tagfocus=pool=^paged$ or
// -tagfocus=pid=4242; list with -tags. The profile's time_nanos and
// duration_nanos are the window's, and its first comment is
// "trace: <file name>", printed in every report header.
//
// [BuildGrowth] exports the growth view instead: the single sample type
// growth_space/bytes holds the bytes allocated minus the bytes freed per
// stack over the window, negative where the window freed more than it
// allocated; pprof sums and prints negative values as it does for diffs.
//
// # Modules, mappings and names
//
// Each distinct module (path, address range, build ID) becomes one pprof
// mapping: file name = the image path as logged, start and limit = its
// range, build ID = PDB GUID as 32 lowercase hex digits followed by the age
// in hex. Equal modules in several processes (64-bit system DLLs share their
// base within a boot) share one mapping. Different images loaded at the
// same addresses in different processes (0x400000 in two 32-bit programs)
// get distinct, overlapping mappings: pprof's own checks allow that, and
// since locations refer to their mapping by ID, pprof never looks a mapping
// up by address when reading a protobuf profile. The first mapping, whose
// file pprof prints as "File:" in report headers, is the module of the
// first frame of the first sample, normally the kernel.
//
// Symbolized frames are named by their undecorated function name (Go's
// Function.Name) and keep the decorated name as Function.SystemName, plus
// source file and line where known. With [Options.QualifyNames] names take
// the module's file name as a prefix, as WinDbg prints them:
// "ntoskrnl.exe!IoAllocateIrpEx". Frames without a function name keep their
// address and mapping and are named "module+0xoffset", the offset being
// from the module's start ("FLTMGR.SYS+0x1a2b0"); frames outside every
// module are named by their address ("0xfffff80361234567") and have no
// mapping.
//
// When a symbolized frame belongs to the kernel pool allocator, the profile
// carries [AllocatorFrames] as its drop_frames, and pprof shows the
// allocation site as the innermost frame (see [Options.KeepAllocatorFrames]).
//
// pprof must not try to symbolize these profiles itself: it has no PDB
// reader and would only print "Local symbolization failed for ..." and
// "Some binary filenames not available" warnings. Its local symbolizer
// (internal/symbolizer doLocalSymbolize, the same in the Go toolchain's
// vendored copy) visits every mapping that some location uses and skips it
// when has_functions, has_filenames or has_line_numbers is set; otherwise a
// mapping with an empty file name is reported as missing (for the first
// mapping: "Main binary filename not available"), one whose base name
// starts with '[' is skipped as unsymbolizable, and any other is opened as
// a local file, which fails for Windows image paths. Moreover, at the
// default (functions) granularity pprof erases the addresses of locations
// without a function line and prints them as "[module]" only. Hence:
//
//   - every frame gets a function line, real or synthetic (above), and
//     has_functions is set on every mapping: it states that the
//     mapping's locations carry function names, which they do.
//     has_filenames and has_line_numbers are set only when the module
//     reports them. [Options.LeaveUnsymbolized] restores a literal
//     copy of Module.HasFunctions and bare unsymbolized locations, for a
//     pprof that can symbolize PE images itself; it brings the warnings
//     back.
//   - a profile whose frames all lie outside known modules still gets a
//     mapping, "[no module]", used by no location: without any mapping
//     pprof would invent one holding every location and warn that the
//     main binary's file name is unknown.
//   - build IDs are validated (33 to [MaxBuildIDLen] lowercase hex
//     digits): the pprof in Go's toolchain slices the first two
//     characters of any non-empty build ID when searching
//     PPROF_BINARY_PATH.
//
// pprof still searches PPROF_BINARY_PATH (default $HOME/pprof/binaries)
// for files named like each mapping; one it finds is kept for -disasm and
// -weblist or, since the Go toolchain's pprof reads no build ID from
// files, reported as "Ignoring local file ...: build-id mismatch" when the
// mapping has a build ID. Only -symbolize=force and -symbolize=demangle=...
// make pprof symbolize (and fail, and warn) regardless of the flags. The
// tests pin all of this by running the real `go tool pprof` and asserting
// that its stderr has no such warning.
//
// # WOW64 stacks
//
// A stack of a 32-bit thread in a WOW64 process has three parts, innermost
// first: kernel frames, 64-bit user frames of the WOW64 layer (64-bit
// ntdll.dll, wow64.dll, wow64cpu.dll, ...: Kind [User]) and the 32-bit
// frames (Kind [WOW64]). Build inserts the marker frame named
// [WOW64Transition], "[wow64 transition]", wherever a [WOW64] frame is
// adjacent to a [Kernel] or [User] frame, unless a [Marker] frame already
// sits there. The marker is a location with address 0 and no mapping, the
// same in every stack. So:
//
//   - -traces shows it as a line of its own between the 64-bit and the
//     32-bit part: "... TurboDispatchJumpAddressEnd, RunCpuSimulation,
//     [wow64 transition], NtReadFile, ReadFile, ...";
//   - flame graphs and -tree show a "[wow64 transition]" node that
//     every 32-bit part hangs from (callers above it are 64-bit, callees
//     below it 32-bit), and -focus='\[wow64 transition\]' selects the
//     allocations of all WOW64 threads;
//   - -top lists it with its cumulative value: the share of the
//     selected values allocated by WOW64 threads.
//
// With [Options.FoldWOW64] the 64-bit WOW64-layer frames of such stacks are
// dropped, leaving kernel frames, the marker, then the 32-bit frames, which
// merges stacks that differ only inside the WOW64 layer. Note that pprof
// merges functions of the same name at the default granularity: the
// kernel's, the 64-bit and the 32-bit ntdll.dll's NtReadFile are one -top
// row; use -traces, the marker, or [Options.QualifyNames] plus
// -focus/-show to tell kernel and user frames apart.
//
// # Merging and comparing
//
// [Merge] combines the profiles of several traces or windows, summing
// samples with equal stacks and labels; modules relocated by ASLR merge
// into one mapping (pprof keys mappings by file or build ID and size) and
// keep their "module+0xoffset" names, which do not depend on the load
// address. [Diff] returns cur minus base as one profile. To compare two
// windows or traces interactively, export each and run
//
//	go tool pprof -diff_base=first.pb.gz last.pb.gz
//
// which shows the same values as Diff, with percentages relative to the
// base. Go heap-profile users will recognise -base for subtracting an
// earlier snapshot.
//
// # Security
//
// Build trusts no field of its input: names and paths are copied as they
// are (pprof stores them as byte strings), a frame whose address lies
// outside its module, a module with an empty range or a malformed build
// ID, an unknown frame kind or a negative duration is rejected with an
// error wrapping [ErrInvalidInput] that names the sample and frame. Memory
// use is proportional to the input: one pprof object per distinct frame,
// function, module and sample, with table pre-sizing capped by
// maxSizeHint. Values are summed in int64 without overflow checks.
// Merge and Diff validate their inputs with CheckValid before handing them
// to pprof's merger.
//
// # Concurrency
//
// Build, BuildGrowth, Merge, Diff and Write keep no global state and may
// run concurrently. They read their inputs without modifying them; the
// inputs must not change during the call. A returned profile belongs to
// the caller and shares no memory with the input.
package export
