// Package stacks turns the stack walks of an ETW trace into readable stacks:
// it attaches StackWalk records to the events they belong to, keeps every
// process's module map over time, classifies frames as kernel, native user
// or WOW64 32-bit, and symbolizes them from PDBs and PE images found on a
// symbol path, in pure Go on every OS.
//
// The pieces are push consumers, fed the events of a trace (or a live
// session) in time order:
//
//   - [Correlator] matches Stack records and stack-key references
//     (StackKeyKernel/StackKeyUser, resolved by KeyDelete/KeyRundown
//     definitions) and EVENT_HEADER extended-data stacks to their events by
//     timestamp and thread, waits a bounded time for user-mode fragments
//     that arrive after the kernel fragment, and interns stacks as
//     [StackID]s. Wanted events come out in the order they went in, each
//     with its StackID. A consumer that decodes records itself can skip
//     the event copies: [Correlator.Await] queues a wanted event by its
//     header fields and [Correlator.KeyReference] takes a decoded key
//     reference; [Correlator.Uses] and [Correlator.Advance] let it leave
//     out the events the correlator has no use for.
//   - Events whose header names no process or thread (PERFINFO headers:
//     SampledProfile, HardFault, pool events logged that way) are matched
//     by timestamp and their payload's thread ([ThreadOf]) or, without
//     one, by timestamp and processor, and take the process and thread of
//     their stack records, else the process of their thread from
//     [Modules.ProcessOf]; [Correlator.Attributed] tells the consumer
//     which, and Stats counts the events left without a process. A stack
//     record goes to the classic kernel event of its timestamp and thread
//     rather than to the KernelTraceControl records xperf logs beside it.
//   - [Lookahead] is what a first pass over a trace tells a streaming
//     correlator: the stack-key definitions that come after their
//     references (KeyRundown at the end of the trace), and the user-mode
//     fragments logged later than the wait.
//   - [Modules] keeps per-process module maps from Image Load, Unload,
//     DCStart and DCEnd and Process events (kernel modules under PID 0,
//     shared by all processes), as they were at each moment, the owner of
//     each thread from Thread events ([Modules.ProcessOf]), with the PDB
//     identity from KernelTraceControl DbgID_RSDS events. It knows which
//     processes are WOW64 (from Process flags, or for Windows 7 traces from
//     the WOW64 DLLs mapped in them) and which images are 32-bit inside
//     them ([ImageBits]).
//   - [Methods] keeps the code ranges of JIT-compiled .NET methods from the
//     CLR's method load and rundown events, so managed frames get names.
//   - [Resolver] turns addresses into [Frame]s: kind, module (as mapped at
//     the stack's time), .NET method, and symbol through a [Symbolizer]
//     such as [PathSymbolizer]. A frame prints as
//     "module!symbol+0xoffset", "module+0xoffset",
//     "managed!Namespace.Method+0xoffset" or "0xaddress".
//
// # WOW64
//
// A 32-bit process on 64-bit Windows has two worlds in one address space.
// Its stacks run, innermost first, through kernel frames, the 64-bit WOW64
// layer (64-bit ntdll.dll, wow64cpu.dll, wow64.dll; xtajit.dll on ARM64)
// and then 32-bit code (SysWOW64\ntdll.dll, KernelBase.dll, the
// application). Whether a process is WOW64 comes from its Process event
// flags, never from addresses: the WOW64 DLLs themselves load below 4 GiB
// on Windows 7 and 8. [HasWOW64Transition] finds the crossing and
// [FoldWOW64] folds the 64-bit layer into one "[wow64 transition]" marker
// frame.
//
// # Symbol paths
//
// [NewPathSymbolizer] takes a path in _NT_SYMBOL_PATH syntax (see
// [SymbolPath]): plain folders, symbol stores (name.pdb/GUIDAGE/name.pdb,
// name.dll/TIMESTAMPSIZE/name.dll, two-tier stores with index2.txt,
// file.ptr, compressed files) and srv*cache*URL symbol servers over HTTP.
// Without a path nothing is fetched and frames stay "module+0xoffset".
//
// # Security
//
// Traces, PDBs, images and symbol-server answers are untrusted input. The
// PDB and PE readers are hardened and fuzzed; the correlator keeps at most
// the events of its waiting window plus one copy of each distinct stack.
//
// # Concurrency
//
// Correlator, Modules, Methods and Resolver are not safe for concurrent
// use; their Uses methods read only the event (and fixed options) and may
// be called from any goroutine. PathSymbolizer is safe for concurrent
// use.
package stacks
