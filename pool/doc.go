// Package pool tracks kernel pool allocations from PoolTrace events
// (xperf -on PROC_THREAD+LOADER+POOL -stackwalk PoolAlloc) and reports what
// is still outstanding, by tag, pool kind, allocating process and stack, and
// how fast each tag grows: the figures of WPA's pool graphs, on any OS.
//
// # Usage
//
// A [Ledger] is a push consumer that knows nothing about where events come
// from, so it serves ETL files and live sessions alike. The caller decodes
// each pool event into an [Op], gives it its stack, either interned with
// [Ledger.InternStack] (frames known now) or as an opaque key of its own in
// [Op.Key] (a stack correlator's ID, whose frames may only be known at the
// end of the trace), and calls [Ledger.Apply] in timestamp order;
// [Ledger.Finish] then returns a [Report] whose JSON form holds the figures
// of poolleak's -json schema (package leak adds the resolved stacks).
//
// # Matching
//
// An alloc opens a block at its address (Entry); a free at that address
// closes it. Regular pool and the session pool of each session id are
// separate address spaces (the space is chosen by [Op.Session]; the pool
// kind by [KindOf]). Damage is data, not an error:
//
//   - a free with no open block (allocated before the trace, or the alloc was
//     lost) is counted as AOFI under the free's own tag and pool kind, and in
//     [Anomalies.FreeWithoutAlloc];
//   - an alloc at an address holding an open block closes the old block as
//     "freed, time unknown": it is counted under the old block's tag in
//     [Anomalies.AllocOverOpenBlock] and [TagStats.AllocOverOpenBlock], is
//     neither freed nor outstanding, and is left out of window classes;
//     its bytes leave the outstanding series at the new alloc's bin;
//   - an op earlier than the previous one is applied at the previous op's
//     time and counted in [Anomalies.OutOfOrder];
//   - lost events and buffers of the trace are reported beside the results
//     ([TraceInfo.EventsLost], [TraceInfo.BuffersLost], filled by the caller).
//
// # Classes
//
// As WPA names them, for a window [a, b): AIFI allocated and freed inside,
// AIFO allocated inside and still outstanding at b, AOFI allocated before a
// (or before the trace) and freed inside, AOFO allocated in the trace before
// a and still outstanding at b (freed after b or never). For the whole trace
// AOFO is 0, AIFI counts matched frees, AOFI unmatched frees and AIFO the
// open blocks. Windows other than the whole trace are answered by
// [Ledger.Window] (see there for when they are exact) and by
// [Options.Windows].
//
// # Leak ranking
//
// Each (tag, pool kind) gets a series of outstanding bytes per bin
// ([Options.Resolution]), a growth rate (least-squares slope, bytes/s), the
// R² of that fit and a leak rank; [LeakScore] documents the rule.
//
// # Memory
//
// Memory is proportional to the open blocks (about 50 bytes each for the
// 1 million of BenchmarkLedgerOpenBlocks, 48 to 96 in general: a 24-byte
// hash-table slot holding address, alloc time, size and an aggregation
// index, at a load between 1/4 and 1/2; a size of 4 GiB or more, which
// only a crafted trace holds, takes a map entry besides;
// the table halves when a peak drains, so it never holds more than about 8
// slots per open block), to the distinct
// (tag, pool kind, stack, pid) combinations and stacks, and to the lifetime
// histogram, which is bounded by [Options.MaxCells] and [Options.MaxBins];
// it does not grow with the number of events. BenchmarkLedgerLarge measures
// it: 10 million events with 1 million blocks outstanding take about 49 MB
// of heap.
//
// # Security
//
// Ops may come from untrusted traces. Every input value is accepted: sizes,
// addresses, times and ids are used as opaque numbers (counters wrap rather
// than panic), stacks are capped at [MaxStackFrames], declared windows at
// [MaxWindows], and no allocation depends on a value in an op other than
// through the number of distinct blocks, stacks and aggregation keys it
// creates. FuzzLedger checks the report invariants on arbitrary input.
//
// # Concurrency
//
// A [Ledger] is not safe for concurrent use; feed it from one goroutine.
// [Ledger.Finish] does not modify the ledger, so a live consumer may take
// snapshots between [Ledger.Apply] calls on the same goroutine. A [Report]
// is plain data.
package pool
