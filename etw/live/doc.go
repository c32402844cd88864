// Package live records pool allocations from a real-time Windows kernel
// session and delivers them as the same [etw.Event] values the ETL reader
// yields, so the decoders, the stack correlation and the pool ledger work on
// a live system exactly as on a trace file.
//
// A session enables what
//
//	xperf -on PROC_THREAD+LOADER+POOL -stackwalk PoolAlloc+PoolAllocSession+PoolFree+PoolFreeSession
//
// enables: the process, thread and image-load kernel flags, the PERF_POOL
// group, stack walks for the four pool event classes and optionally a
// filter of up to four pool tags (wildcards '?' and a trailing '*'
// allowed). They are passed the way xperf passes them, in the extension
// block of StartTrace (group masks, stack walk hook ids 0x0E20-0x0E23,
// pool tags); when Windows refuses parts of it the session falls back to
// TraceSetInformation, stack walks first, and a session whose stacks are
// refused runs without them and says so ([Session.Warnings]). On Windows
// 8 and later it is a system logger session with its own name, unique per
// process and call unless [Options.Name] gives one ([NewSessionName]), so
// it does not take the single "NT Kernel Logger" and sessions of programs
// running side by side never meet.
//
//	s, err := live.Start(live.Options{PoolTags: []string{"Irp"}, StackWalk: true, Rundown: true})
//	if err != nil { ... }
//	defer s.Close()
//	for ev, err := range s.All() { ... }
//
// Images have no PDB identity in kernel events; merged traces get it from
// KernelTraceControl DbgID_RSDS events that xperf injects. A live session
// reads the debug directory of each image file when the image first
// appears (Image Load or rundown DCStart) and returns a synthesized
// DbgID_RSDS event right before the image event, with the same timestamp,
// as merged traces have it, so live profiles symbolize like merged traces.
//
// The translation from EVENT_RECORD to Event lives in package etw
// ([etw.RecordDecoder]) and is tested on every system; this package only
// runs the session. On systems other than Windows, [Start] returns
// [ErrNotSupported].
//
// # Licensing
//
// The session is driven through github.com/0xrawsec/golang-etw, which is
// licensed under the GPL-3.0. This package is the only package of etwkit
// that imports it: programs that only read ETL files never link it. A
// program that imports this package links GPL-3.0 code; its distribution
// terms follow from that.
//
// # Security
//
// Starting a kernel session needs an elevated administrator; Performance
// Log Users membership is not enough for kernel sessions, and Start then
// fails with [ErrNotElevated] ("run elevated"). The session sees pool
// activity and image loads of the whole system. Image files named by kernel events are opened read-only
// and only their headers and CodeView record are read, with every offset
// and count capped; a malformed file yields no DbgID event, never a panic.
// A system logger session outlives a process that dies without closing it
// and keeps pool tracing on with its buffers (64-256 MB non-paged by
// default). Start never stops a session it did not start; [StopOrphans]
// stops the sessions of etwkit processes that are gone, and `logman stop
// <name> -ets` stops one by hand (`logman query -ets` lists them).
//
// # Concurrency
//
// The consumer runs on its own goroutine and hands decoded events to
// [Session.ReadEvent] through a fixed pool of event slots, without
// allocating per event. ReadEvent and All must be called from one
// goroutine at a time, and an Event is valid until the next ReadEvent
// call. Close, Abort and Stats may be called from any goroutine. Close
// drains: it stops the session, the kernel flushes its buffers, and
// ReadEvent returns every remaining event before os.ErrClosed, so nothing
// logged before Close is lost. Abort (the second Ctrl-C) drops what is in
// flight and unblocks ReadEvent at once. When the reader falls behind, the
// consumer waits and the kernel buffers events, counting what it loses
// ([Stats]). The reader side holds events for [Options.ReorderWindow] to
// return them in timestamp order across processors.
package live
